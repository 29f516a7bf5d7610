"""``tap-sap-s4hana`` and ``python -m xlr8_tap_sap_s4hana``: the tap's command.

Its imports run with the garbage collector paused (``xlr8_kit.startup``): collecting while ~600 modules load is
start-up time spent to free about 1 MB.
"""

from xlr8_kit.startup import paused_gc

with paused_gc():
    from xlr8_tap_sap_s4hana.tap import TapSapS4Hana

main = TapSapS4Hana.cli

if __name__ == "__main__":
    main()
