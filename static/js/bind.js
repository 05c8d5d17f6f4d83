// Progressive enhancement of the bind form: the form works without this file.
// Checks mirror the server's messages exactly; the server checks everything again.
(function () {
  "use strict";
  var form = document.getElementById("bind-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var MOBILE = /^1[3-9]\d{9}$/, PASSWORD = /^[0-9A-Za-z]{8,20}$/;

  function show(id, input, msg) {
    var el = $(id);
    el.textContent = msg || "";
    el.hidden = !msg;
    if (input) input.setAttribute("aria-invalid", msg ? "true" : "false");
    return !msg;
  }
  function checkMobile() {
    var v = $("mobile").value.trim();
    return show("mobile-error", $("mobile"), !v ? "缺少必传参数" : MOBILE.test(v) ? "" : "请输入正确的手机号码");
  }
  function checkPassword() {
    var v = $("password").value;
    return show("password-error", $("password"), !v ? "缺少必传参数" : PASSWORD.test(v) ? "" : "请输入8-20位的密码");
  }
  function checkSms() {
    return show("sms-code-error", $("sms_code"), $("sms_code").value.trim() ? "" : "缺少必传参数");
  }
  $("mobile").addEventListener("blur", checkMobile);
  $("password").addEventListener("blur", checkPassword);

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
    if (!checkMobile()) return;
    var code = $("image_code").value.trim();
    if (!show("image-code-error", $("image_code"), code ? "" : "缺少必传参数")) return;
    button.disabled = true;
    var url = "/sms_codes/" + encodeURIComponent($("mobile").value.trim()) + "/?image_code=" +
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
    var ok = [checkMobile(), checkPassword(), checkSms()].every(Boolean);
    if (!ok) ev.preventDefault();
  });
})();
