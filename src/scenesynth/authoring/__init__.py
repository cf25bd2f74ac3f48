"""Questions written as programs: a read-only scene API (:mod:`.api`), a sandbox that runs
untrusted programs (:mod:`.sandbox`, :mod:`.worker`, :mod:`.gate`), question writers
(:mod:`.writer`), quality control (:mod:`.qc`) and the paraphrase bank (:mod:`.paraphrase`).

Modules are imported on demand: the sandbox worker imports only the API and the gate.
"""
