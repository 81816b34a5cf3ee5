// Opened from disk (file://), the browser refuses the requests Sphinx's search makes for
// the excerpts under each result: list the matching pages and sections without them.
// Served over http(s), the excerpts show as usual.
if (window.location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") {
  DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
}
