"""Small stdlib-only helpers the rest of orch (and the trainers) share: files written whole
(``files``), the cache folder (``cache``), processes orch must be able to stop (``processes``),
secrets kept out of the store (``secrets``), checkpoints on disk (``checkpoints``), bulk object
building (``bulk``) and the version (``version``)."""
