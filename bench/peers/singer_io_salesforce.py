"""Runs singer-io tap-salesforce 2.8.1 (in its own venv) against the emulator: that tap posts its OAuth refresh to
login.salesforce.com, so the token URL is rewritten to the config's ``xlr8_login_url``; everything after login
follows the ``instance_url`` the token response names, exactly as against a real org."""

import json
import sys

import tap_salesforce
from tap_salesforce.salesforce import Salesforce

VENDOR_TOKEN_URLS = ("https://login.salesforce.com", "https://test.salesforce.com")


def main() -> None:
    config_path = sys.argv[sys.argv.index("--config") + 1]
    with open(config_path, encoding="utf-8") as handle:
        login_url = json.load(handle)["xlr8_login_url"].rstrip("/")
    original = Salesforce._make_request

    def make_request(self, http_method, url, *args, **kwargs):
        for vendor in VENDOR_TOKEN_URLS:
            if url.startswith(vendor):
                url = login_url + url[len(vendor) :]
        return original(self, http_method, url, *args, **kwargs)

    Salesforce._make_request = make_request
    tap_salesforce.main()


if __name__ == "__main__":
    main()
