"""sparkbert's performance benchmark (see docs/performance.md); not part of the installed package."""
