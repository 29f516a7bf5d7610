"""``tap-common`` and ``python -m xlr8_tap_common``: the tap's command.

Its imports run inside ``xlr8_kit.startup.plugin_imports``: no collections while ~600 modules load (start-up time
spent to free about 1 MB), singer_sdk's joblib and universal_pathlib imported only if called, the imported heap
frozen before the collector runs again.
"""

from xlr8_kit.startup import plugin_imports

with plugin_imports():
    from xlr8_tap_common.tap import TapCommon

main = TapCommon.cli

if __name__ == "__main__":
    main()
