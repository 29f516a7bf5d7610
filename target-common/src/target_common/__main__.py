"""``target-common`` and ``python -m target_common``: the target's command.

Its imports run as the taps' do (``xlr8_kit.startup.plugin_imports``): no collections while the SDK loads,
singer_sdk's joblib and universal_pathlib imported only if called, the imported heap frozen.
"""

from xlr8_kit.startup import plugin_imports, with_heap_thresholds

with plugin_imports():
    from target_common.target import TargetCommon

main = with_heap_thresholds(TargetCommon.cli)

if __name__ == "__main__":
    main()
