"""One hardened parser for every vendor document: entity bombs, external entities and DTDs are refused by each
reader that parses vendor XML (SOAP envelopes, OData EDMX, Workday XSD via the SOAP reader)."""

from __future__ import annotations

import pytest

from xlr8_kit import xmlsafe
from xlr8_kit.odata.edmx import EdmxError, parse_edmx
from xlr8_kit.soap import SoapParseError, parse_envelope, parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<root>&lol3;</root>"""

#: The declaration hidden behind a long comment, past any fixed-size sniffing of the document's head.
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!--' + b" " * 8192 + b'--><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
)

EDMX = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">
 <edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
   m:DataServiceVersion="2.0">
  <Schema Namespace="S" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
   <EntityType Name="T"><Key><PropertyRef Name="id"/></Key><Property Name="id" Type="Edm.String"
     Nullable="false"/></EntityType>
   <EntityContainer Name="C" m:IsDefaultEntityContainer="true"><EntitySet Name="Ts" EntityType="S.T"/>
   </EntityContainer>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity-bomb", "external-entity"])
def test_whole_and_streamed_parses_refuse_declarations(document: bytes) -> None:
    with pytest.raises(xmlsafe.UnsafeXMLError):
        xmlsafe.parse_xml(document)
    with pytest.raises(xmlsafe.UnsafeXMLError):
        list(xmlsafe.iterparse_xml(document))


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity-bomb", "external-entity"])
def test_every_vendor_reader_refuses_declarations(document: bytes) -> None:
    with pytest.raises(SoapParseError, match="DOCTYPE"):
        parse_xml(document)
    with pytest.raises(SoapParseError, match="DOCTYPE"):
        parse_envelope(document)
    with pytest.raises(EdmxError, match="DOCTYPE"):
        parse_edmx(document.replace(b"<root>&lol3;</root>", EDMX.split(b"?>", 1)[1]))


def test_plain_documents_still_parse() -> None:
    assert list(parse_edmx(EDMX).entity_sets) == ["Ts"]
    assert [e.tag for _, e in xmlsafe.iterparse_xml(b"<a><b/></a>", events=("end",))] == ["b", "a"]
    with pytest.raises(xmlsafe.XMLParseError, match="not well-formed"):
        xmlsafe.parse_xml(b"<a><b></a>")


def test_no_vendor_xml_is_parsed_outside_the_hardened_parser() -> None:
    """Every XML parse in the kit, the taps and the emulators goes through ``xlr8_kit.xmlsafe``."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    direct = re.compile(
        r"etree\.(fromstring|iterparse|parse|XML|XMLParser|XMLPullParser)\(|xml\.etree|xml\.dom|xml\.sax\.(parse|make_parser)"
    )
    sources = [
        *(root / "shared" / "src").rglob("*.py"),
        *(root / "sandbox" / "src").rglob("*.py"),
        *(root / "taps").glob("*/src/**/*.py"),
    ]
    assert len(sources) > 50
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in sources
        if path.name != "xmlsafe.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []
