// Pairing form: POST the code, then go to the live page (the cookie is HttpOnly: this script never sees it).
"use strict";
document.getElementById("pair").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const msg = document.getElementById("msg");
  const code = document.getElementById("code").value;
  try {
    const r = await fetch("/pair", {method: "POST", headers: {"Content-Type": "application/json"},
                                    body: JSON.stringify({code}), credentials: "same-origin"});
    const body = await r.json();
    if (body.ok) { location.href = "/"; return; }
    msg.textContent = body.error;
  } catch (e) {
    msg.textContent = "the device did not answer: " + e;
  }
  msg.className = "msg bad";
});
