"use strict";
// Camera evidence on the weighing's ticket view (docs/devices.md, "Camera evidence"): the stills
// the station's cameras took for the weighing (GET /v1/weighings/{seq}/images), each a thumbnail
// from GET /v1/images/{sha256} with its camera and hash prefix, or the reason it is missing.
// Drawn under the ticket whenever the ticket view shows a weighing.
/* global $, make, request, t, setPlate */

async function showCameraImages(seq) {
  const box = $("#camera-images");
  if (!box) return;
  box.replaceChildren();
  box.hidden = true;
  if (seq == null || seq === "") return;
  const r = await request("GET", "/v1/weighings/" + encodeURIComponent(seq) + "/images");
  if (!r.ok || !r.body || !r.body.taken || String($("#ticket").dataset.seq) !== String(seq)) {
    return;
  }
  box.append(make("h3", "", t("camera.images")));
  const list = make("ul", "camera-thumbs");
  for (const image of r.body.images || []) {
    const item = make("li", "camera-thumb");
    item.dataset.camera = image.camera;
    if (image.status === "ok") {
      const link = make("a");
      link.href = "/v1/images/" + encodeURIComponent(image.sha256);
      link.target = "_blank";
      link.rel = "noopener";
      const img = make("img");
      img.src = link.href;
      img.alt = t("camera.image_of", { camera: image.camera });
      img.loading = "lazy";
      img.width = 160;
      link.append(img);
      item.append(link);
      item.append(make("span", "camera-caption", image.camera + " " + image.sha256.slice(0, 16)));
    } else {
      item.classList.add("missing");
      const why = t("camera.missing", { camera: image.camera, reason: image.reason });
      item.append(make("span", "camera-caption", why));
    }
    list.append(item);
  }
  box.append(list);
  box.hidden = false;
}

// The ticket view sets #ticket's data-seq when it shows a weighing: follow it.
(function watchTicket() {
  const ticket = $("#ticket");
  if (!ticket) return;
  let shown = null;
  new MutationObserver(() => {
    const seq = ticket.dataset.seq ?? null;
    if (seq === shown) return;
    shown = seq;
    showCameraImages(seq);
  }).observe(ticket, { attributes: true, attributeFilter: ["data-seq"] });
})();

// ANPR: a plate an ANPR camera read (GET /v1/anpr/latest) is offered beside the plate field with
// its picture; it goes into the field only when the operator takes it.
const anprOffer = { plate: null };
async function pollAnpr() {
  const r = await request("GET", "/v1/anpr/latest");
  const field = $(".plate-field");
  if (!field) return;
  let box = $("#anpr-offer");
  if (!r.ok) {
    if (box) box.remove();
    anprOffer.plate = null;
    return;
  }
  if (box && anprOffer.plate === r.body.plate) return;
  anprOffer.plate = r.body.plate;
  if (!box) {
    box = make("div", "anpr-offer");
    box.id = "anpr-offer";
    field.after(box);
  }
  box.replaceChildren();
  const offered = t("camera.anpr_offer", { plate: r.body.plate, camera: r.body.camera });
  box.append(make("span", "", offered));
  if (r.body.image_sha256) {
    const img = make("img");
    img.src = "/v1/images/" + encodeURIComponent(r.body.image_sha256);
    img.alt = t("camera.anpr_image");
    img.width = 120;
    box.append(img);
  }
  const use = make("button", "small", t("camera.anpr_use"));
  use.type = "button";
  use.addEventListener("click", () => {
    setPlate(r.body.plate);
    box.remove();
  });
  box.append(use);
}

(async function startAnpr() {
  const r = await request("GET", "/v1/status");
  if (!r.ok || !r.body || !r.body.anpr) return;
  pollAnpr();
  setInterval(pollAnpr, 3000);
})();
