"""Stream declarations. Salesforce streams are discovered (one per sObject, named by its API name); what is
declared here is how the truths target should read the well-known ones. Unknown objects (custom ones included)
become plain ``reality`` streams named after the object.
"""

from __future__ import annotations

from xlr8_tap_salesforce.client import SalesforceStream

#: sObject -> (canonical entity, truth type, references to other entities).
ANNOTATIONS: dict[str, tuple[str, str, dict[str, str]]] = {
    "Account": ("crm_account", "reality", {"ParentId": "crm_account", "OwnerId": "user"}),
    "Contact": ("contact", "reality", {"AccountId": "crm_account", "OwnerId": "user"}),
    "Opportunity": ("opportunity", "reality", {"AccountId": "crm_account", "OwnerId": "user"}),
    "Lead": ("lead", "reality", {"ConvertedAccountId": "crm_account", "OwnerId": "user"}),
    "User": ("user", "reality", {"ManagerId": "user"}),
    "Case": ("case", "reality", {"AccountId": "crm_account", "ContactId": "contact", "OwnerId": "user"}),
    "Project__c": ("project", "reality", {"Account__c": "crm_account", "Lead_Consultant__c": "user"}),
}


def stream_class(sobject: str) -> type[SalesforceStream]:
    """The stream class for an sObject: annotated when the vocabulary knows it, plain otherwise."""
    entity, truth_type, references = ANNOTATIONS.get(sobject, (None, "reality", {}))
    return type(
        f"{sobject.replace('__', '_')}Stream",
        (SalesforceStream,),
        {"xlr8_entity": entity, "xlr8_truth_type": truth_type, "xlr8_references": dict(references)},
    )
