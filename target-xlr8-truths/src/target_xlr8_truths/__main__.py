"""``target-xlr8-truths`` and ``python -m target_xlr8_truths``: the target's command.

Its imports run as the taps' do (``xlr8_kit.startup.paused_gc``): no collections while ~600 modules load, and
numpy's BLAS (imported by joblib through singer_sdk) kept to one thread.
"""

from xlr8_kit.startup import paused_gc

with paused_gc():
    from target_xlr8_truths.target import TargetXlr8Truths

main = TargetXlr8Truths.cli

if __name__ == "__main__":
    main()
