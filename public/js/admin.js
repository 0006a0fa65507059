// iotd admin: a preview of the chosen image before sending, and a progress
// bar while it uploads. The forms work without this script too.
"use strict";

function initImageForm(form) {
  const input = form.querySelector('input[type=file]');
  const preview = form.querySelector('img.preview');
  const progress = form.querySelector('progress.upload-progress');
  let previewUrl = null;

  if (input && preview) {
    input.addEventListener('change', () => {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      const file = input.files && input.files[0];
      if (!file || !/^image\//.test(file.type)) {
        preview.hidden = true;
        return;
      }
      previewUrl = URL.createObjectURL(file);
      preview.src = previewUrl;
      preview.hidden = false;
    });
  }

  if (!progress || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) {
        progress.value = Math.round((e.loaded / e.total) * 100);
        progress.textContent = progress.value + '%';
      }
    });
    xhr.addEventListener('load', () => {
      const landed = new URL(xhr.responseURL || form.action, window.location.href);
      const sent = new URL(form.action, window.location.href);
      if (landed.pathname !== sent.pathname) {
        // Saved: the XHR followed the redirect and its response is the list
        // with the flash message, which the server hands out only once, so
        // show that response rather than loading the list again.
        window.history.replaceState(null, '', landed.href);
      }
      // the response (the list, or the form back with errors, or an error page) becomes the page
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener('error', () => {
      if (button) button.disabled = false;
      progress.hidden = true;
      window.alert('The upload failed: the connection was lost. Nothing was saved; please try again.');
    });
    xhr.send(new FormData(form));
  });
}

document.addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('form.image-form').forEach(initImageForm);
});
