"""Live data gathering: a question in, the rows it is about landed as truths, and an answer computed from them.

Imports point one way: ``xlr8_gather`` -> ``target_xlr8_truths`` -> ``xlr8_kit``. The gathering itself is
``xlr8_gather.gather`` (module), the plan's class ``xlr8_gather.live.LiveDataGatherer``.
"""
