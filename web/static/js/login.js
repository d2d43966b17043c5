import { saveTokens } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = document.getElementById("login-button");
  button.disabled = true;
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        username: form.username.value.trim(),
        password: form.password.value,
      }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const wait = response.headers.get("Retry-After");
      error.textContent = response.status === 429
        ? `Too many attempts. Try again in ${wait || "a minute"} s.`
        : (body.detail && typeof body.detail === "string" ? body.detail : "Sign-in failed");
      error.hidden = false;
      return;
    }
    saveTokens(body);
    window.location.assign("/dashboard");
  } catch {
    error.textContent = "The server cannot be reached.";
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
