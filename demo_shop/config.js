// Replaced at run time by the demo server (clickpulse/demo/shop_server.py) with the demo site's key.
window.CLICKPULSE_DEMO = { key: "wk_demo", api: "http://127.0.0.1:8001" };
