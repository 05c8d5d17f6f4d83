// Progressive enhancement of the bind and register forms: both work without this file.
// Checks mirror the server's messages exactly; the server checks everything again.
(function () {
  "use strict";
  var form = document.querySelector("form[data-form]");
  if (!form) return;
  var kind = form.getAttribute("data-form");
  var $ = function (id) { return document.getElementById(id); };
  var MOBILE = /^1[3-9]\d{9}$/, PASSWORD = /^[0-9A-Za-z]{8,20}$/, USERNAME = /^[a-zA-Z0-9_-]{5,20}$/;
  // What an empty required field says: the bind form has the seed's one message.
  var MISSING = kind === "bind" ? "缺少必传参数" : null;

  function show(id, input, msg) {
    var el = $(id);
    if (!el) return !msg;
    el.textContent = msg || "";
    el.hidden = !msg;
    if (input) input.setAttribute("aria-invalid", msg ? "true" : "false");
    return !msg;
  }
  function value(id) { return $(id).value.trim(); }

  // Asks the server whether a name or mobile is taken; shows `msg` when it is.
  function taken(url, errorId, input, msg) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (data.code === "0" && data.count > 0) show(errorId, input, msg); })
      .catch(function () { /* the server checks again on submit */ });
  }

  var checks = {
    mobile: function (live) {
      var v = value("mobile");
      var ok = show("mobile-error", $("mobile"), !v && MISSING ? MISSING : MOBILE.test(v) ? "" : "请输入正确的手机号码");
      if (ok && live && kind === "register") taken("/mobiles/" + v + "/count/", "mobile-error", $("mobile"), "手机号已存在");
      return ok;
    },
    password: function () {
      var v = $("password").value;
      return show("password-error", $("password"), !v && MISSING ? MISSING : PASSWORD.test(v) ? "" : "请输入8-20位的密码");
    },
    sms_code: function () {
      return show("sms-code-error", $("sms_code"), value("sms_code") ? "" : (MISSING || "请填写短信验证码"));
    }
  };
  if (kind === "register") {
    checks.username = function (live) {
      var v = value("username");
      var msg = !USERNAME.test(v) ? "请输入5-20个字符的用户名" : MOBILE.test(v) ? "用户名不能是手机号" : "";
      var ok = show("username-error", $("username"), msg);
      if (ok && live) taken("/usernames/" + v + "/count/", "username-error", $("username"), "用户名已存在");
      return ok;
    };
    checks.password2 = function () {
      return show("password2-error", $("password2"), $("password2").value === $("password").value ? "" : "两次输入的密码不一致");
    };
    checks.allow = function () {
      return show("allow-error", $("allow"), $("allow").checked ? "" : "请勾选用户协议");
    };
    $("allow").addEventListener("change", checks.allow);
  }
  ["username", "mobile", "password", "password2"].forEach(function (name) {
    if (checks[name]) $(name).addEventListener("blur", function () { checks[name](true); });
  });

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function refreshCaptcha() {
    var id = uuid4();
    $("image_code_id").value = id;
    $("captcha").src = "/image_codes/" + id + "/";
    $("image_code").value = "";
  }
  $("captcha").addEventListener("click", refreshCaptcha);

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
  button.addEventListener("click", function (ev) {
    ev.preventDefault();
    if (counting) return;
    show("sms-code-error", $("sms_code"), "");
    if (!checks.mobile(false)) return;
    var code = value("image_code");
    if (!show("image-code-error", $("image_code"), code ? "" : "缺少必传参数")) return;
    button.disabled = true;
    var url = "/sms_codes/" + encodeURIComponent(value("mobile")) + "/?image_code=" +
      encodeURIComponent(code) + "&image_code_id=" + encodeURIComponent($("image_code_id").value);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.code === "0") {
          $("sms-notice").textContent = "短信验证码已发送，5分钟内有效";
          $("sms-notice").hidden = false;
          countdown(60);
        } else {
          button.disabled = false;
          if (data.code === "4001") show("image-code-error", $("image_code"), data.errmsg);
          else if (data.code === "4007") show("mobile-error", $("mobile"), data.errmsg);
          else show("sms-code-error", $("sms_code"), data.errmsg);
          if (data.code === "4002") countdown(60);
          refreshCaptcha(); // an image code works once
        }
      })
      .catch(function () {
        button.disabled = false;
        show("sms-code-error", $("sms_code"), "网络错误，请稍后再试");
      });
  });

  form.addEventListener("submit", function (ev) {
    if (ev.submitter && ev.submitter.value === "send_sms") return;
    var ok = Object.keys(checks).map(function (name) { return checks[name](false); }).every(Boolean);
    if (!ok) ev.preventDefault();
  });
})();
