"""Oracle Fusion Cloud emulators on one REST framework: ``hcm.OracleHcmEmulator`` (``/hcmRestApi``, HCM Extracts)
and ``erp.OracleErpEmulator`` (``/fscmRestApi``, ERP integrations ESS jobs)."""
