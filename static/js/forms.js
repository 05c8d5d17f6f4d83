// Progressive enhancement of the forms (bind, register, password reset, login, link):
// every one works without this file, and the server checks everything again.
//
// - A field is checked only once it was typed in (then on leaving it) or on submit,
//   with a message that says what to do; one message per field, and a new action
//   clears the old ones.
// - The captcha's 换一张 and the SMS button work in place; the SMS button counts down
//   from what the server says is left (data-wait), so a reload shows the right wait.
// - A submit disables its button while the request is in flight.
(function () {
  "use strict";
  var form = document.querySelector("form[data-form]");
  if (!form) return;
  var kind = form.getAttribute("data-form");
  var $ = function (id) { return document.getElementById(id); };
  var MOBILE = /^1[3-9]\d{9}$/, PASSWORD = /^[0-9A-Za-z]{8,20}$/, USERNAME = /^[a-zA-Z0-9_-]{5,20}$/;

  // Show/hide password: the toggles stay hidden without this script.
  Array.prototype.forEach.call(document.querySelectorAll(".pw-toggle"), function (t) {
    var input = $(t.getAttribute("data-toggle"));
    if (!input) return;
    t.hidden = false;
    t.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      t.textContent = show ? "隐藏" : "显示";
      t.setAttribute("aria-pressed", show ? "true" : "false");
      t.setAttribute("aria-label", show ? "隐藏密码" : "显示密码");
    });
    t.setAttribute("aria-label", "显示密码");
  });

  // In flight: the pressed button is disabled once the browser has taken the form's
  // data (its name/value included), and enabled again when the page comes back from the
  // browser's cache (Back).
  function inFlight(submitter) {
    if (!submitter || submitter.disabled) return;
    submitter.setAttribute("data-label", submitter.textContent);
    setTimeout(function () {
      submitter.disabled = true;
      submitter.setAttribute("aria-busy", "true");
      submitter.textContent = "提交中…";
    }, 0);
  }
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(form.querySelectorAll("[data-label]"), function (b) {
      b.disabled = false;
      b.removeAttribute("aria-busy");
      b.textContent = b.getAttribute("data-label");
      b.removeAttribute("data-label");
    });
  });

  if (kind === "link") {
    form.addEventListener("submit", function (ev) { inFlight(ev.submitter || $("link-confirm")); });
    return;
  }

  function show(id, input, msg) {
    var el = $(id);
    if (!el) return !msg;
    el.textContent = msg || "";
    el.hidden = !msg;
    if (input) {
      if (msg) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    return !msg;
  }
  function value(id) { return $(id) ? $(id).value.trim() : ""; }
  // The banners above the form (the server's last answer): gone with a new action.
  function clearBanners() {
    Array.prototype.forEach.call(document.querySelectorAll(".field-error.banner"), function (el) {
      el.hidden = true;
    });
  }

  // Asks the server whether a name or mobile is taken; shows `msg` when it is.
  function taken(url, errorId, input, msg) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (data.code === "0" && data.count > 0) show(errorId, input, msg); })
      .catch(function () { /* the server checks again on submit */ });
  }

  function passwordMessage(v) {
    if (!v) return "请输入密码";
    if (v.length < 8 || v.length > 20) return "请输入8-20位的密码";
    if (!PASSWORD.test(v)) return "密码只能包含字母和数字（不能有空格或符号）";
    return "";
  }

  var checks = {};
  if (kind === "change") {
    checks.old_password = function () {
      return show("old_password-error", $("old_password"), $("old_password").value ? "" : "请输入原密码");
    };
    checks.password = function () {
      return show("password-error", $("password"), passwordMessage($("password").value));
    };
    checks.password2 = function () {
      var v = $("password2").value;
      return show("password2-error", $("password2"), !v ? "请再次输入新密码" : v === $("password").value ? "" : "两次密码不一致");
    };
  } else if (kind === "login") {
    checks.username = function () {
      return show("username-error", $("username"), value("username") ? "" : "请输入用户名或手机号");
    };
    checks.password = function () {
      return show("password-error", $("password"), $("password").value ? "" : "请输入密码");
    };
  } else {
    checks.mobile = function (live) {
      var v = value("mobile");
      var ok = show("mobile-error", $("mobile"), !v ? "请输入手机号" : MOBILE.test(v) ? "" : "请输入正确的手机号码");
      if (ok && live && kind === "register") taken("/mobiles/" + v + "/count/", "mobile-error", $("mobile"), "手机号已存在");
      return ok;
    };
    checks.password = function () {
      return show("password-error", $("password"), passwordMessage($("password").value));
    };
    checks.sms_code = function () {
      return show("sms-code-error", $("sms_code"), value("sms_code") ? "" : (kind === "register" ? "请填写短信验证码" : "请输入短信验证码"));
    };
  }
  if (kind === "register") {
    checks.username = function (live) {
      var v = value("username");
      var msg = !USERNAME.test(v) ? "请输入5-20个字符的用户名" : MOBILE.test(v) ? "用户名不能是手机号" : "";
      var ok = show("username-error", $("username"), msg);
      if (ok && live) taken("/usernames/" + v + "/count/", "username-error", $("username"), "用户名已存在");
      return ok;
    };
    checks.password = function () {
      var v = $("password").value;
      return show("password-error", $("password"), PASSWORD.test(v) ? "" : "请输入8-20位的密码");
    };
    checks.mobile = (function (inner) {
      return function (live) {
        var v = value("mobile");
        if (!v) return show("mobile-error", $("mobile"), "请输入正确的手机号码");
        return inner(live);
      };
    })(checks.mobile);
    checks.password2 = function () {
      return show("password2-error", $("password2"), $("password2").value === $("password").value ? "" : "两次输入的密码不一致");
    };
    checks.allow = function () {
      return show("allow-error", $("allow"), $("allow").checked ? "" : "请勾选用户协议");
    };
    $("allow").addEventListener("change", checks.allow);
  }
  if (kind === "reset") {
    checks.password2 = function () {
      var v = $("password2").value;
      return show("password2-error", $("password2"), !v ? "请再次输入新密码" : v === $("password").value ? "" : "两次密码不一致");
    };
  }
  // Checked on leaving a field only once it was typed in; typing again clears its message.
  ["username", "mobile", "old_password", "password", "password2", "sms_code"].forEach(function (name) {
    var input = $(name);
    if (!checks[name] || !input) return;
    input.addEventListener("input", function () {
      input.setAttribute("data-typed", "1");
      var err = $(input.getAttribute("aria-describedby").split(" ").filter(function (id) { return /-error$/.test(id) && id !== "account-error"; })[0] || "");
      if (err && !err.hidden) show(err.id, input, "");
    });
    input.addEventListener("blur", function () {
      if (input.getAttribute("data-typed")) checks[name](true);
    });
  });

  // The captcha: 换一张 (a button, so Tab reaches it) and a click on the picture.
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function refreshCaptcha() {
    if (!$("captcha")) return;
    var id = uuid4();
    $("image_code_id").value = id;
    $("captcha").src = "/image_codes/" + id + "/";
    $("image_code").value = "";
    show("image-code-error", $("image_code"), "");
  }
  if ($("captcha")) {
    $("captcha").addEventListener("click", refreshCaptcha);
    $("captcha-refresh").addEventListener("click", function (ev) {
      ev.preventDefault();
      refreshCaptcha();
      $("image_code").focus();
    });
  }

  var button = $("send-sms"), counting = false;
  function countdown(seconds) {
    counting = true;
    button.disabled = true;
    var left = seconds;
    button.textContent = left + "秒后重新获取";
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        counting = false;
        button.disabled = false;
        button.textContent = "获取短信验证码";
      } else {
        button.textContent = left + "秒后重新获取";
      }
    }, 1000);
  }
  function notice(msg) {
    if (!$("sms-notice")) return;
    $("sms-notice").textContent = msg || "";
    $("sms-notice").hidden = !msg;
  }
  if (button) {
    var wait = parseInt(button.getAttribute("data-wait") || "0", 10);
    if (wait > 0) countdown(wait);
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (counting) return;
      clearBanners();
      notice("");
      show("sms-code-error", $("sms_code"), "");
      if (!checks.mobile(false)) return;
      var code = value("image_code");
      if (!show("image-code-error", $("image_code"), code ? "" : "请输入图形验证码")) return;
      button.disabled = true;
      var purpose = $("sms_purpose") ? "&purpose=" + encodeURIComponent($("sms_purpose").value) : "";
      var url = "/sms_codes/" + encodeURIComponent(value("mobile")) + "/?image_code=" +
        encodeURIComponent(code) + "&image_code_id=" + encodeURIComponent($("image_code_id").value) + purpose;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.code === "0") {
            notice("短信验证码已发送，5分钟内有效");
            countdown(60);
          } else {
            button.disabled = false;
            if (data.code === "4001") show("image-code-error", $("image_code"), data.errmsg);
            else if (data.code === "4007") show("mobile-error", $("mobile"), data.errmsg);
            else show("sms-code-error", $("sms_code"), data.errmsg);
            if (data.code === "4002") countdown(60);
          }
          // An image code works once, right or wrong.
          var keep = $("image-code-error").hidden ? "" : $("image-code-error").textContent;
          refreshCaptcha();
          if (keep) show("image-code-error", $("image_code"), keep);
        })
        .catch(function () {
          button.disabled = false;
          show("sms-code-error", $("sms_code"), "网络错误，请稍后再试");
        });
    });
  }

  form.addEventListener("submit", function (ev) {
    var submitter = ev.submitter;
    if (submitter && (submitter.value === "send_sms" || submitter.value === "captcha")) return;
    clearBanners();
    if ($("account-error")) $("account-error").hidden = true;
    if ($("image-code-error")) show("image-code-error", $("image_code"), "");
    var ok = Object.keys(checks).map(function (name) { return checks[name](false); }).every(Boolean);
    if (!ok) {
      ev.preventDefault();
      var first = form.querySelector("[aria-invalid=true]");
      if (first) first.focus();
      return;
    }
    notice("");
    inFlight(submitter || form.querySelector("button.btn-primary"));
  });
})();
