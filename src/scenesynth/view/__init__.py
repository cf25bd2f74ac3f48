"""A static, self-contained HTML viewer for a run (``scenesynth view``).

:func:`build_site` writes ``index.html`` plus paged data files that the page loads with
``<script>`` tags (browsers block ``fetch`` of ``file://`` URLs, script tags are allowed), so
the site opens from disk with no server and only the pages being looked at are read.
"""

from scenesynth.view.build import SiteReport, build_site

__all__ = ["SiteReport", "build_site"]
