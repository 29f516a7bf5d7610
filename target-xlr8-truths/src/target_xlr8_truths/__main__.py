"""``target-xlr8-truths`` and ``python -m target_xlr8_truths``: the target's command.

Its imports run as the taps' do (``xlr8_kit.startup.plugin_imports``): no collections while ~600 modules load,
singer_sdk's joblib and universal_pathlib imported only if called (the target drains one sink at a time, so it
never calls joblib), numpy's BLAS kept to one thread whenever numpy loads, the imported heap frozen. Only the
target's parts of singer_sdk load (``SDK_FOR_A_TARGET``): not its streams, requests or urllib3.
"""

from xlr8_kit.startup import SDK_FOR_A_TARGET, plugin_imports

with plugin_imports(SDK_FOR_A_TARGET):
    from target_xlr8_truths.target import TargetXlr8Truths

main = TargetXlr8Truths.cli

if __name__ == "__main__":
    main()
