"""Singer tap for salesforce."""
