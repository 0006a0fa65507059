/*
 * home.c — GET /: the featured image, full screen, with its name and
 * tagline; "No images yet" and a link to the admin when there is none.
 */
#include <json-c/json.h>

#include "handlers.h"
#include "images.h"
#include "iotd.h"
#include "media.h"
#include "view.h"
#include "worker.h"

int iotd_handle_home(iotd_ctx *ctx)
{
    if (iotd_worker_db_ready(ctx) != IOTD_OK)
        return iotd_view_error(ctx, 503, NULL);
    iotd_image img;
    int rc = iotd_images_latest(ctx->db, ctx->arena, &img);
    if (rc == IOTD_AGAIN)
        return iotd_view_error(ctx, 503, NULL);
    if (rc != IOTD_OK && rc != IOTD_DECLINED)
        return iotd_view_error(ctx, 500, NULL);
    json_object *data = json_object_new_object();
    if (!data)
        return iotd_view_error(ctx, 500, NULL);
    if (rc == IOTD_OK) {
        const char *url = iotd_media_url(ctx, img.object_key);
        if (!url) {
            json_object_put(data);
            return iotd_view_error(ctx, 503, NULL);
        }
        json_object *image = json_object_new_object();
        if (!image) {
            json_object_put(data);
            return iotd_view_error(ctx, 500, NULL);
        }
        json_object_object_add(image, "name", json_object_new_string(img.name));
        json_object_object_add(image, "tagline", json_object_new_string(img.tagline));
        json_object_object_add(image, "url", json_object_new_string(url));
        json_object_object_add(image, "width", json_object_new_int(img.width));
        json_object_object_add(image, "height", json_object_new_int(img.height));
        json_object_object_add(image, "uploaded_at", json_object_new_string(img.uploaded_at));
        json_object_object_add(data, "image", image);
    }
    return iotd_view_render(ctx, 200, "home", data);
}
