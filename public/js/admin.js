// iotd admin: a preview of the chosen image before sending, a progress bar
// while it uploads, and a few automatic retries when the server answers 503
// with Retry-After (every upload slot busy); the list loads itself again
// while an image on it is being processed. The pages work without this
// script too.
"use strict";

function initImageForm(form) {
  // inside the function: a page written by document.write runs this file again
  const UPLOAD_TRIES = 5;
  const UPLOAD_MAX_WAIT_S = 30;
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
  let status = form.querySelector('.upload-status');
  if (!status) {
    status = document.createElement('p');
    status.className = 'upload-status';
    status.setAttribute('role', 'status');
    status.hidden = true;
    progress.insertAdjacentElement('afterend', status);
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    send(button, 1);
  });

  function send(button, attempt) {
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
      const wait = parseInt(xhr.getResponseHeader('Retry-After') || '', 10);
      if (xhr.status === 503 && wait >= 0 && attempt < UPLOAD_TRIES) {
        // busy, nothing saved: send the same form again after the pause asked for
        const seconds = Math.min(wait || 1, UPLOAD_MAX_WAIT_S);
        status.textContent = `The server is busy; trying again in ${seconds} s (attempt ${attempt + 1} of ${UPLOAD_TRIES}).`;
        status.hidden = false;
        window.setTimeout(() => send(button, attempt + 1), seconds * 1000);
        return;
      }
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
  }
}

document.addEventListener('DOMContentLoaded', () => {
  // inside the function, as above: an image just uploaded is listed while
  // its renditions are made (a second or two); the list shows its
  // thumbnail once they are
  const PROCESSING_RELOAD_MS = 2000;
  document.querySelectorAll('form.image-form').forEach(initImageForm);
  if (document.querySelector('[data-processing]')) {
    window.setTimeout(() => window.location.reload(), PROCESSING_RELOAD_MS);
  }
});
