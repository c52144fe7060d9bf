// The login page of a shared link: when the server refuses a login with 429 (too many failed logins from this
// address), a banner says how long to wait (the answer's Retry-After), counting down; gradio's own form shows nothing
// then. Put into the login page by ui/http_guard.py.
(() => {
  if (window.__studioLoginWait) return;
  window.__studioLoginWait = true;

  const originalFetch = window.fetch.bind(window);
  let timer = null;

  function banner() {
    let box = document.getElementById("studio-login-wait");
    if (!box) {
      box = document.createElement("div");
      box.id = "studio-login-wait";
      box.setAttribute("role", "alert");
      box.style.cssText =
        "position: sticky; top: 0; z-index: 1000; padding: 12px 16px; text-align: center;" +
        "font: 600 15px/1.4 system-ui, sans-serif; background: #b91c1c; color: #fff;";
      document.body.prepend(box); // above the form, pushing it down
    }
    return box;
  }

  function showWait(seconds) {
    const box = banner();
    let left = Math.max(1, Math.ceil(seconds));
    const draw = () => {
      box.textContent = `Too many failed logins — try again in ${left} s`;
    };
    clearInterval(timer);
    draw();
    timer = setInterval(() => {
      left -= 1;
      if (left > 0) return draw();
      clearInterval(timer);
      box.remove();
    }, 1000);
  }

  const isLogin = (resource) => {
    const url = new URL(resource && resource.url ? resource.url : String(resource), location.href);
    return /\/login\/?$/.test(url.pathname);
  };

  window.fetch = async (resource, options) => {
    const response = await originalFetch(resource, options);
    if (response.status === 429 && isLogin(resource)) {
      const wait = Number(response.headers.get("Retry-After"));
      showWait(Number.isFinite(wait) && wait > 0 ? wait : 1);
    } else if (response.ok && isLogin(resource)) {
      clearInterval(timer);
      document.getElementById("studio-login-wait")?.remove();
    }
    return response;
  };
})();
