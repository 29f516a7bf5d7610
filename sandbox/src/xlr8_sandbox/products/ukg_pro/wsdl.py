"""The WSDL set of UKG Pro RaaS, as a WCF service publishes it: ``?wsdl`` (bindings and service), ``?wsdl=wsdl0``
(port type and messages, imported) and ``?xsd=xsdN`` (the schemas those import), for ``BIDataService`` and
``BIStreamingService``.

Written from the operations and types of the real service (UKG's RaaS developer guide and the published WSDL of a
tenant: seven BIDataService operations, Ping, LogOn, LogOnWithToken, LogOff, ExecuteReport, GetReportList and
GetReportParameters, plus BIStreamingService's RetrieveReport with its ReportKey/Status SOAP headers). Every import
location points back at the emulator that served the document, so a standard SOAP client (zeep) loads the whole set
from the emulator alone. Generated at run time; nothing is read from vendor files.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

BIDATA_NS = "http://www.ultipro.com/dataservices/bidata/2"
BISTREAM_NS = "http://www.ultipro.com/dataservices/bistream/2"
TEMPURI_NS = "http://tempuri.org/"
SERIALIZATION_NS = "http://schemas.microsoft.com/2003/10/Serialization/"
WCF_BASE_NS = "http://schemas.datacontract.org/2004/07/UltimateSoftware.WcfTypes.Base"
SPECIALIZED_NS = "http://schemas.datacontract.org/2004/07/System.Collections.Specialized"
MESSAGE_NS = "http://schemas.microsoft.com/Message"
#: Ping is inherited from UKG's common WCF service contract, hence its own action namespace.
PING_ACTION = "http://tempuri.org/IUesWcfService/Ping"
PING_RESPONSE_ACTION = "http://tempuri.org/IUesWcfService/PingResponse"
DATA_CONTRACT = "IBIDataService"
STREAM_CONTRACT = "IBIStreamService"
#: Every BIDataService operation a real tenant's WSDL lists, in its order.
DATA_OPERATIONS = ("Ping", "LogOn", "LogOnWithToken", "LogOff", "ExecuteReport", "GetReportList", "GetReportParameters")

_DEFINITIONS_NS = (
    'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" '
    'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" '
    'xmlns:wsaw="http://www.w3.org/2006/05/addressing/wsdl" xmlns:wsa10="http://www.w3.org/2005/08/addressing" '
    'xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"'
)


# --- schema building blocks ------------------------------------------------------------------------------------------
def _member(name: str, type_: str, *, optional: bool = True, nillable: bool = True, many: bool = False) -> str:
    attrs = ' minOccurs="0"' if optional else ""
    attrs += ' maxOccurs="unbounded"' if many else ""
    attrs += f' name="{name}"'
    attrs += ' nillable="true"' if nillable else ""
    return f'<xs:element{attrs} type="{type_}"/>'


def _complex(name: str, *members: str) -> str:
    """A named complex type with its global element, as WCF data contracts are published."""
    return (
        f'<xs:complexType name="{name}"><xs:sequence>{"".join(members)}</xs:sequence></xs:complexType>'
        f'<xs:element name="{name}" nillable="true" type="tns:{name}"/>'
    )


def _wrapper(name: str, *members: str) -> str:
    """An operation's document/literal wrapper element."""
    sequence = f"<xs:sequence>{''.join(members)}</xs:sequence>"
    return f'<xs:element name="{name}"><xs:complexType>{sequence}</xs:complexType></xs:element>'


def _enum(name: str, *values: str) -> str:
    options = "".join(f'<xs:enumeration value="{v}"/>' for v in values)
    return (
        f'<xs:simpleType name="{name}"><xs:restriction base="xs:string">{options}</xs:restriction></xs:simpleType>'
        f'<xs:element name="{name}" nillable="true" type="tns:{name}"/>'
    )


def _schema(
    namespace: str,
    body: str,
    imports: dict[str, str] | None = None,
    *,
    qualified_attributes: bool = False,
    extra_ns: str = "",
) -> str:
    head = "".join(
        f'<xs:import schemaLocation={quoteattr(loc)} namespace="{ns}"/>' for ns, loc in (imports or {}).items()
    )
    attribute_form = ' attributeFormDefault="qualified"' if qualified_attributes else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{namespace}"{extra_ns}{attribute_form} '
        f'elementFormDefault="qualified" targetNamespace="{namespace}">{head}{body}</xs:schema>'
    )


def _serialization_schema() -> str:
    """WCF's serialization primitives (every WCF service exports it; NameValueCollection refers to FactoryType)."""
    primitives = (
        "anyType",
        "anyURI",
        "base64Binary",
        "boolean",
        "byte",
        "dateTime",
        "decimal",
        "double",
        "float",
        "int",
        "long",
        "QName",
        "short",
        "string",
        "unsignedByte",
        "unsignedInt",
        "unsignedLong",
        "unsignedShort",
    )
    body = "".join(f'<xs:element name="{p}" nillable="true" type="xs:{p}"/>' for p in primitives)
    body += (
        '<xs:element name="char" nillable="true" type="tns:char"/>'
        '<xs:simpleType name="char"><xs:restriction base="xs:int"/></xs:simpleType>'
        '<xs:element name="duration" nillable="true" type="tns:duration"/>'
        '<xs:simpleType name="duration"><xs:restriction base="xs:duration"/></xs:simpleType>'
        '<xs:element name="guid" nillable="true" type="tns:guid"/>'
        '<xs:simpleType name="guid"><xs:restriction base="xs:string">'
        '<xs:pattern value="[\\da-fA-F]{8}-[\\da-fA-F]{4}-[\\da-fA-F]{4}-[\\da-fA-F]{4}-[\\da-fA-F]{12}"/>'
        "</xs:restriction></xs:simpleType>"
        '<xs:attribute name="FactoryType" type="xs:QName"/><xs:attribute name="Id" type="xs:ID"/>'
        '<xs:attribute name="Ref" type="xs:IDREF"/>'
    )
    return _schema(SERIALIZATION_NS, body, qualified_attributes=True)


# --- BIDataService ---------------------------------------------------------------------------------------------------
def _data_schemas(base: str) -> dict[str, str]:
    xsd = f"{base}?xsd="
    context = ("ServiceId", "ClientAccessKey", "Token")
    bidata = "".join(
        [
            _wrapper("LogOn", _member("logOnRequest", "tns:LogOnRequest")),
            _complex(
                "LogOnRequest",
                *(_member(n, "xs:string") for n in ("UserName", "Password", "ClientAccessKey", "UserAccessKey")),
            ),
            _wrapper("LogOnResponse", _member("LogOnResult", "tns:DataContext")),
            _complex(
                "DataContext",
                *(_member(n, "xs:string") for n in context),
                _member("Status", "tns:ContextStatus", nillable=False),
                _member("StatusMessage", "xs:string"),
                _member("InstanceKey", "xs:string"),
            ),
            _enum("ContextStatus", "Ok", "Failed", "LoggedOff"),
            _wrapper("LogOnWithToken", _member("logOnRequest", "tns:LogOnWithTokenRequest")),
            _complex(
                "LogOnWithTokenRequest",
                _member("Token", "xs:string", optional=False),
                _member("ClientAccessKey", "xs:string", optional=False),
            ),
            _wrapper("LogOnWithTokenResponse", _member("LogOnWithTokenResult", "tns:DataContext")),
            _wrapper("LogOff", _member("context", "tns:DataContext")),
            _wrapper("LogOffResponse", _member("LogOffResult", "tns:DataContext")),
            _wrapper("ExecuteReport", _member("request", "tns:ReportRequest"), _member("context", "tns:DataContext")),
            _complex(
                "ReportRequest",
                _member("ReportPath", "xs:string"),
                _member("ReportParameters", "tns:ArrayOfReportParameter"),
            ),
            _complex("ArrayOfReportParameter", _member("ReportParameter", "tns:ReportParameter", many=True)),
            _complex(
                "ReportParameter",
                _member("Name", "xs:string"),
                _member("Value", "xs:string"),
                _member("Required", "xs:boolean", nillable=False),
                _member("DataType", "xs:string"),
                _member("MultiValued", "xs:boolean", nillable=False),
            ),
            _wrapper("ExecuteReportResponse", _member("ExecuteReportResult", "tns:ReportResponse")),
            _complex(
                "ReportResponse",
                _member("ReportKey", "xs:string"),
                _member("ReportRetrievalUri", "xs:anyURI"),
                _member("Status", "tns:ReportRequestStatus", nillable=False),
                _member("StatusMessage", "xs:string"),
            ),
            _enum("ReportRequestStatus", "Success", "Failed"),
            _wrapper("GetReportList", _member("context", "tns:DataContext")),
            _wrapper("GetReportListResponse", _member("GetReportListResult", "tns:ReportListResponse")),
            _complex(
                "ReportListResponse",
                _member("Reports", "tns:ArrayOfReport", optional=False),
                _member("Status", "tns:ReportRequestStatus", optional=False, nillable=False),
                _member("StatusMessage", "xs:string"),
            ),
            _complex("ArrayOfReport", _member("Report", "tns:Report", many=True)),
            _complex("Report", _member("ReportName", "xs:string"), _member("ReportPath", "xs:string")),
            _wrapper("GetReportParameters", _member("reportPath", "xs:string"), _member("context", "tns:DataContext")),
            _wrapper(
                "GetReportParametersResponse", _member("GetReportParametersResult", "tns:ReportParameterResponse")
            ),
            _complex(
                "ReportParameterResponse",
                _member("ReportParameters", "tns:ArrayOfReportParameter", optional=False),
                _member("Status", "tns:ReportRequestStatus", optional=False, nillable=False),
                _member("StatusMessage", "xs:string"),
            ),
        ]
    )
    ping_fields = ("AppDomainName", "CallerIPAddress")
    ping_tail = ("ListenerUri", "MachineName", "ProcessName", "StackTrace", "TargetUri")
    wcf_base = _complex(
        "PingResponse",
        *(_member(n, "xs:string") for n in ping_fields),
        _member("Child", "tns:PingResponse"),
        _member("ExceptionDetails", "xs:string"),
        _member("ExceptionMessage", "xs:string"),
        _member("Information", "q1:NameValueCollection"),
        *(_member(n, "xs:string") for n in ping_tail),
    )
    specialized = (
        '<xs:complexType name="NameValueCollection"><xs:complexContent mixed="false">'
        '<xs:extension base="tns:NameObjectCollectionBase"/></xs:complexContent></xs:complexType>'
        '<xs:element name="NameValueCollection" nillable="true" type="tns:NameValueCollection"/>'
        '<xs:complexType name="NameObjectCollectionBase"><xs:sequence>'
        '<xs:any minOccurs="0" maxOccurs="unbounded" namespace="##local" processContents="skip"/></xs:sequence>'
        '<xs:attribute ref="ser:FactoryType"/></xs:complexType>'
        '<xs:element name="NameObjectCollectionBase" nillable="true" type="tns:NameObjectCollectionBase"/>'
    )
    ping = _wrapper("Ping") + _wrapper("PingResponse", _member("PingResult", "q1:PingResponse"))
    return {
        "xsd0": _schema(TEMPURI_NS, ping, {WCF_BASE_NS: xsd + "xsd2"}, extra_ns=f' xmlns:q1="{WCF_BASE_NS}"'),
        "xsd1": _serialization_schema(),
        "xsd2": _schema(
            WCF_BASE_NS, wcf_base, {SPECIALIZED_NS: xsd + "xsd3"}, extra_ns=f' xmlns:q1="{SPECIALIZED_NS}"'
        ),
        "xsd3": _schema(
            SPECIALIZED_NS, specialized, {SERIALIZATION_NS: xsd + "xsd1"}, extra_ns=f' xmlns:ser="{SERIALIZATION_NS}"'
        ),
        "xsd4": _schema(BIDATA_NS, bidata),
    }


def _action(operation: str, suffix: str = "") -> str:
    if operation == "Ping":
        return PING_ACTION + suffix
    return f"{BIDATA_NS}/{DATA_CONTRACT}/{operation}{suffix}"


def _data_port_type(base: str) -> str:
    imports = {
        TEMPURI_NS: "xsd0",
        SERIALIZATION_NS: "xsd1",
        WCF_BASE_NS: "xsd2",
        SPECIALIZED_NS: "xsd3",
        BIDATA_NS: "xsd4",
    }
    types = "".join(
        f'<xsd:import schemaLocation={quoteattr(f"{base}?xsd={x}")} namespace="{ns}"/>' for ns, x in imports.items()
    )
    messages, operations = [], []
    for op in DATA_OPERATIONS:
        prefix = "q1:" if op == "Ping" else "tns:"
        for direction, element in (("Input", op), ("Output", f"{op}Response")):
            messages.append(
                f'<wsdl:message name="{DATA_CONTRACT}_{op}_{direction}Message"><wsdl:part name="parameters" '
                f'element="{prefix}{element}"/></wsdl:message>'
            )
        operations.append(
            f'<wsdl:operation name="{op}">'
            f'<wsdl:input wsaw:Action="{_action(op)}" message="tns:{DATA_CONTRACT}_{op}_InputMessage"/>'
            f'<wsdl:output wsaw:Action="{_action(op, "Response")}" message="tns:{DATA_CONTRACT}_{op}_OutputMessage"/>'
            "</wsdl:operation>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<wsdl:definitions {_DEFINITIONS_NS} xmlns:tns="{BIDATA_NS}" '
        f'xmlns:q1="{TEMPURI_NS}" targetNamespace="{BIDATA_NS}">'
        f'<wsdl:types><xsd:schema targetNamespace="{BIDATA_NS}/Imports">{types}</xsd:schema></wsdl:types>'
        f'{"".join(messages)}<wsdl:portType name="{DATA_CONTRACT}">{"".join(operations)}</wsdl:portType>'
        "</wsdl:definitions>"
    )


def _soap12_operation(
    name: str, action: str, input_extra: str = "", output_extra: str = "", input_name: str = "", output_name: str = ""
) -> str:
    in_name = f' name="{input_name}"' if input_name else ""
    out_name = f' name="{output_name}"' if output_name else ""
    return (
        f'<wsdl:operation name="{name}"><soap12:operation soapAction="{action}" style="document"/>'
        f'<wsdl:input{in_name}>{input_extra}<soap12:body use="literal"/></wsdl:input>'
        f'<wsdl:output{out_name}>{output_extra}<soap12:body use="literal"/></wsdl:output></wsdl:operation>'
    )


def _root(service: str, contract: str, namespace: str, operations: str, base: str) -> str:
    binding = f"WSHttpBinding_{contract}"
    address = escape(base)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<wsdl:definitions {_DEFINITIONS_NS} xmlns:tns="{TEMPURI_NS}" '
        f'xmlns:i0="{namespace}" name="{service}" targetNamespace="{TEMPURI_NS}">'
        f'<wsp:Policy wsu:Id="{binding}_policy"><wsp:ExactlyOne><wsp:All><wsaw:UsingAddressing/></wsp:All>'
        "</wsp:ExactlyOne></wsp:Policy>"
        f'<wsdl:import namespace="{namespace}" location={quoteattr(f"{base}?wsdl=wsdl0")}/><wsdl:types/>'
        f'<wsdl:binding name="{binding}" type="i0:{contract}"><wsp:PolicyReference URI="#{binding}_policy"/>'
        f'<soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>{operations}</wsdl:binding>'
        f'<wsdl:service name="{service}"><wsdl:port name="{binding}" binding="tns:{binding}">'
        f'<soap12:address location="{address}"/><wsa10:EndpointReference><wsa10:Address>{address}'
        "</wsa10:Address></wsa10:EndpointReference></wsdl:port></wsdl:service></wsdl:definitions>"
    )


def data_service_document(base: str, query: str) -> str | None:
    """The BIDataService document a ``?wsdl`` / ``?wsdl=wsdl0`` / ``?xsd=xsdN`` query names, or None."""
    if query in ("wsdl", "singleWsdl", ""):
        operations = "".join(_soap12_operation(op, _action(op)) for op in DATA_OPERATIONS)
        return _root("BIDataService", DATA_CONTRACT, BIDATA_NS, operations, base)
    if query == "wsdl=wsdl0":
        return _data_port_type(base)
    if query.startswith("xsd="):
        return _data_schemas(base).get(query[4:])
    return None


# --- BIStreamingService ----------------------------------------------------------------------------------------------
def _stream_port_type(base: str) -> str:
    imports = {BISTREAM_NS: "xsd0", SERIALIZATION_NS: "xsd1", MESSAGE_NS: "xsd2"}
    types = "".join(
        f'<xsd:import schemaLocation={quoteattr(f"{base}?xsd={x}")} namespace="{ns}"/>' for ns, x in imports.items()
    )
    action = f"{BISTREAM_NS}/{STREAM_CONTRACT}/RetrieveReport"
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<wsdl:definitions {_DEFINITIONS_NS} xmlns:tns="{BISTREAM_NS}" '
        f'targetNamespace="{BISTREAM_NS}">'
        f'<wsdl:types><xsd:schema targetNamespace="{BISTREAM_NS}/Imports">{types}</xsd:schema></wsdl:types>'
        '<wsdl:message name="RetrieveReportRequest"><wsdl:part name="parameters" element="tns:RetrieveReportRequest"/>'
        '</wsdl:message><wsdl:message name="RetrieveReportRequest_Headers"><wsdl:part name="ReportKey" '
        'element="tns:ReportKey"/></wsdl:message><wsdl:message name="StreamReportResponse"><wsdl:part '
        'name="parameters" element="tns:StreamReportResponse"/></wsdl:message>'
        '<wsdl:message name="StreamReportResponse_Headers"><wsdl:part name="Status" element="tns:Status"/>'
        '<wsdl:part name="StatusMessage" element="tns:StatusMessage"/></wsdl:message>'
        f'<wsdl:portType name="{STREAM_CONTRACT}"><wsdl:operation name="RetrieveReport">'
        f'<wsdl:input wsaw:Action="{action}" name="RetrieveReportRequest" message="tns:RetrieveReportRequest"/>'
        f'<wsdl:output wsaw:Action="{action}Response" name="StreamReportResponse" message="tns:StreamReportResponse"/>'
        "</wsdl:operation></wsdl:portType></wsdl:definitions>"
    )


def _stream_schemas(base: str) -> dict[str, str]:
    stream = (
        _wrapper("RetrieveReportRequest")
        + '<xs:element name="ReportKey" nillable="true" type="xs:string"/>'
        + _wrapper("StreamReportResponse", _member("ReportStream", "q1:StreamBody", optional=False, nillable=False))
        + _enum("ReportResponseStatus", "Working", "Completed", "Failed")
        + '<xs:element name="Status" type="tns:ReportResponseStatus"/>'
        + '<xs:element name="StatusMessage" nillable="true" type="xs:string"/>'
    )
    message = '<xs:simpleType name="StreamBody"><xs:restriction base="xs:base64Binary"/></xs:simpleType>'
    return {
        "xsd0": _schema(BISTREAM_NS, stream, {MESSAGE_NS: f"{base}?xsd=xsd2"}, extra_ns=f' xmlns:q1="{MESSAGE_NS}"'),
        "xsd1": _serialization_schema(),
        "xsd2": _schema(MESSAGE_NS, message),
    }


def streaming_service_document(base: str, query: str) -> str | None:
    """The BIStreamingService document a ``?wsdl`` / ``?wsdl=wsdl0`` / ``?xsd=xsdN`` query names, or None."""
    if query in ("wsdl", "singleWsdl", ""):
        headers_in = '<soap12:header message="i0:RetrieveReportRequest_Headers" part="ReportKey" use="literal"/>'
        headers_out = "".join(
            f'<soap12:header message="i0:StreamReportResponse_Headers" part="{part}" use="literal"/>'
            for part in ("Status", "StatusMessage")
        )
        operation = _soap12_operation(
            "RetrieveReport",
            f"{BISTREAM_NS}/{STREAM_CONTRACT}/RetrieveReport",
            headers_in,
            headers_out,
            "RetrieveReportRequest",
            "StreamReportResponse",
        )
        return _root("BIStreamService", STREAM_CONTRACT, BISTREAM_NS, operation, base)
    if query == "wsdl=wsdl0":
        return _stream_port_type(base)
    if query.startswith("xsd="):
        return _stream_schemas(base).get(query[4:])
    return None
