"""The layout every page shares at narrow widths (from 800 px up, and a phone for Classify)."""

# From 800 px wide up (and on a phone for Classify) nothing is cut off: a row of metrics wraps where
# its values would be shortened to "1,…", and a wide table or chart scrolls inside itself, not the page.
NARROW_STYLE = """<style>
[data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] > [data-testid="stVerticalBlock"]
  > [data-testid="stElementContainer"]:only-child > [data-testid="stMetric"]) {flex-wrap: wrap;}
[data-testid="stColumn"]:has(> [data-testid="stVerticalBlock"] > [data-testid="stElementContainer"]:only-child
  > [data-testid="stMetric"]) {min-width: max-content;}
[data-testid="stMain"] {overflow-x: hidden;}
</style>"""
# Streamlit closes the sidebar by itself only below 768 px; below NARROW_PX the pages need its room,
# so it starts closed once per browser tab (opened again by the person, it stays open).
NARROW_PX = 1024
CLOSE_SIDEBAR_WHEN_NARROW = f"""<script>
if (window.innerWidth < {NARROW_PX} && !sessionStorage.getItem("cnnkit.sidebarClosedOnce")) {{
  sessionStorage.setItem("cnnkit.sidebarClosedOnce", "1");
  document.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
}}
</script>"""
