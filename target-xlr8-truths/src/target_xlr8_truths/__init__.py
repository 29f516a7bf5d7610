"""target-xlr8-truths."""
