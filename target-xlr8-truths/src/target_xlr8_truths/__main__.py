"""``target-xlr8-truths`` and ``python -m target_xlr8_truths``: the target's command.

Its imports run as the taps' do (``xlr8_kit.startup.plugin_imports``): no collections while ~600 modules load,
singer_sdk's joblib and universal_pathlib imported only if called (the target drains one sink at a time, so it
never calls joblib), numpy's BLAS kept to one thread whenever numpy loads, the imported heap frozen. Only the
target's parts of singer_sdk load (``SDK_FOR_A_TARGET``): not its streams, requests or urllib3.

It ends as the taps do (``xlr8_kit.process_end``): without the interpreter's teardown, which comes after the last
line of a ``meltano run`` (Meltano waits for the target's exit). The store is closed by then: at the end of pipe,
or by its ``atexit`` handler after a fatal error.
"""

from xlr8_kit.process_end import ends_without_teardown
from xlr8_kit.startup import SDK_FOR_A_TARGET, plugin_imports

with plugin_imports(SDK_FOR_A_TARGET):
    from target_xlr8_truths.target import TargetXlr8Truths

main = ends_without_teardown(TargetXlr8Truths.cli)

if __name__ == "__main__":
    main()
