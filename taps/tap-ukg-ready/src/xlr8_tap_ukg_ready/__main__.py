"""``tap-ukg-ready`` and ``python -m xlr8_tap_ukg_ready``: the tap's command.

Its imports run inside ``xlr8_kit.startup.plugin_imports``: no collections while ~600 modules load (start-up time
spent to free about 1 MB), singer_sdk's joblib and universal_pathlib imported only if called, the imported heap
frozen before the collector runs again. It ends without the interpreter's teardown
(``xlr8_kit.process_end``): the output flushed and the ``atexit`` handlers run, the objects not deallocated.
"""

from xlr8_kit.process_end import ends_without_teardown
from xlr8_kit.startup import plugin_imports, with_heap_thresholds

with plugin_imports():
    from xlr8_tap_ukg_ready.tap import TapUkgReady

main = ends_without_teardown(with_heap_thresholds(TapUkgReady.cli))

if __name__ == "__main__":
    main()
