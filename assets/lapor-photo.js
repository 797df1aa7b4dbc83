/* The report form's photo (/lapor): chosen with a button, checked (type, size) before anything is
 * sent, resized on the phone (longer side at most data-side px, JPEG through a canvas) and sent as
 * a plain multipart upload to /lapor/photo with a progress bar. The upload's ref goes into the
 * form's lapor-photo-ref store; with no signal the resized photo is kept for the report kept on the
 * phone (assets/lapor-offline.js). Words come from the photo box's data attributes (the catalogue).
 */
(function () {
  "use strict";
  var state = window.pantauLaporState = window.pantauLaporState || {};

  function set(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) { window.dash_clientside.set_props(id, props); }
  }
  function box() { return document.getElementById("lapor-photo-box"); }
  function token() {
    var form = document.getElementById("lapor-form");
    return form ? form.dataset.token : "";
  }
  function say(text) { set("lapor-photo-status", {children: text || ""}); }
  function refuse(text) {
    set("lapor-error-photo", {children: text || ""});
    var button = document.getElementById("lapor-photo");
    if (button) {
      if (text) { button.setAttribute("aria-invalid", "true"); } else { button.removeAttribute("aria-invalid"); }
    }
  }
  function progress(fraction) {
    var bar = document.getElementById("lapor-photo-progress");
    if (!bar) { return; }
    if (fraction === null) { bar.hidden = true; return; }
    bar.hidden = false;
    bar.value = Math.round(fraction * 100);
  }

  function decode(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, {imageOrientation: "from-image"});
    }
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = reject;
      img.src = URL.createObjectURL(file);
    });
  }

  // -> a JPEG Blob whose longer side is at most `side` px (the EXIF, with its GPS, is not copied).
  function resize(file, side) {
    return decode(file).then(function (image) {
      var width = image.width, height = image.height;
      var scale = Math.min(1, side / Math.max(width, height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      if (image.close) { image.close(); }
      return new Promise(function (resolve, reject) {
        canvas.toBlob(function (blob) { if (blob) { resolve(blob); } else { reject(new Error("encode")); } },
                      "image/jpeg", 0.82);
      });
    });
  }

  // -> {status, body} of POST /lapor/photo; rejects when the network fails.
  function upload(blob, lang, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/lapor/photo?lang=" + encodeURIComponent(lang));
      xhr.responseType = "json";
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) { onProgress(event.loaded / event.total); }
      };
      xhr.onload = function () { resolve({status: xhr.status, body: xhr.response || {}}); };
      xhr.onerror = xhr.ontimeout = function () { reject(new Error("network")); };
      xhr.timeout = 120000;
      var form = new FormData();
      form.append("token", token());
      form.append("photo", blob, "photo.jpg");
      xhr.send(form);
    });
  }

  function attached(answer, data) {
    state.photo = {blob: state.photo && state.photo.blob, ref: answer.ref};
    set("lapor-photo-ref", {data: answer.ref});
    set("lapor-photo-status", {children: [
      {type: "Img", namespace: "dash_html_components",
       props: {src: answer.preview, alt: data.alt, id: "lapor-thumb", className: "lacak-photo lapor-thumb"}},
      {type: "Div", namespace: "dash_html_components", props: {children: answer.message}}]});
  }

  function choose(file) {
    var data = box().dataset;
    var max = parseInt(data.maxBytes || "0", 10);
    state.photo = null;
    set("lapor-photo-ref", {data: null});
    say("");
    refuse("");
    if (!/^image\//.test(file.type || "")) { refuse(data.wrongType); return; }
    if (max && file.size > max) { refuse(data.tooLarge); return; }
    say(data.resizing);
    resize(file, parseInt(data.side || "1600", 10)).then(function (blob) {
      state.photo = {blob: blob, ref: null};
      if (!navigator.onLine) { say(data.kept); return; }
      say(data.uploading);
      progress(0);
      return upload(blob, data.lang, progress).then(function (answer) {
        progress(null);
        if (answer.status === 200 && answer.body.ref) {
          attached(answer.body, data);
        } else {
          state.photo = null;
          say("");
          refuse(answer.body.message || data.failed);
        }
      }, function () {
        progress(null);
        // No signal after all: the resized photo waits with the report on the phone.
        say(navigator.onLine ? data.failed : data.kept);
      });
    }, function () {
      progress(null);
      say("");
      refuse(data.wrongType);   // the browser cannot read it as an image
    });
  }

  function fileInput() {
    var input = document.getElementById("lapor-photo-file");
    if (!input) {
      input = document.createElement("input");
      input.type = "file";
      input.id = "lapor-photo-file";
      input.accept = "image/*";
      input.className = "visually-hidden";
      input.tabIndex = -1;
      input.setAttribute("aria-hidden", "true");
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        input.value = "";
        if (file && box()) { choose(file); }
      });
      document.body.appendChild(input);
    }
    return input;
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest && event.target.closest("#lapor-photo");
    if (button) { fileInput().click(); }
  });
  // The input is there from the start (tests and assistive tools find it), outside Dash's tree.
  new MutationObserver(function (records, observer) {
    if (box()) { fileInput(); observer.disconnect(); }
  }).observe(document.documentElement, {childList: true, subtree: true});

  window.pantauLaporPhoto = {upload: upload};
})();
