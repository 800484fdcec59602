/*
 * wbctl_svg.c: renders a board as SVG for `wbctl export --format svg`.
 *
 * Input is the board's canonical JSON (board_to_json: the same document
 * the REST API serves), so the picture is drawn from exactly what a client
 * sees. Output is stable: the same board gives the same bytes.
 *
 *   <svg xmlns=... viewBox="minx miny w h">   bounding box + 20 px margin
 *     <defs><marker id="wb-arrow">...</marker></defs>
 *     <g data-id="ID" data-type="TYPE" [transform=rotate] [opacity]>
 *       one shape: rect | ellipse | polyline (line; arrow with
 *       marker-end) | path (stroke) | text | rect + text (sticky)
 *     </g> ...
 *   </svg>
 *
 * One <g data-type> per visible element, painted in z order (the "z"
 * fractional-index string, bytewise; absent sorts first), ties by id.
 * Coordinates are px (the JSON's units); points are relative to the
 * element's x, y. Colors #RRGGBBAA become an RGB color plus an opacity
 * attribute. Text is XML-escaped; characters XML 1.0 forbids become U+FFFD.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "wb_error.h"
#include "wbctl.h"

typedef struct svg_el {
    json_t *obj; /* borrowed from the document */
    const char *id, *type, *z;
} svg_el;

static double num(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Prints a px value with at most 3 decimals, no trailing zeros. */
static void put_num(FILE *f, double v)
{
    char b[64];
    snprintf(b, sizeof b, "%.3f", v);
    char *e = b + strlen(b) - 1;
    while (*e == '0')
        *e-- = 0;
    if (*e == '.')
        *e = 0;
    fputs(strcmp(b, "-0") == 0 ? "0" : b, f);
}

static void put_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                fputs("\xef\xbf\xbd", f);
            else
                fputc(*p, f);
        }
    }
}

/* attr="#rrggbb" attr-opacity="a" from "#rrggbbaa"; dflt when absent. */
static void put_color(FILE *f, const char *attr, const char *c,
                      const char *dflt)
{
    if (!c || strlen(c) != 9 || c[0] != '#') {
        fprintf(f, " %s=\"%s\"", attr, dflt);
        return;
    }
    unsigned a = (unsigned)strtoul(c + 7, NULL, 16);
    fprintf(f, " %s=\"%.7s\"", attr, c);
    if (a != 255) {
        fprintf(f, " %s-opacity=\"", attr);
        put_num(f, a / 255.0);
        fputc('"', f);
    }
}

static void put_attr(FILE *f, const char *name, double v)
{
    fprintf(f, " %s=\"", name);
    put_num(f, v);
    fputc('"', f);
}

static void put_stroke(FILE *f, json_t *o, const char *dflt_fill)
{
    put_color(f, "stroke", str(o, "strokeColor"), "#000000");
    put_attr(f, "stroke-width", num(o, "strokeWidth", 1));
    if (dflt_fill)
        put_color(f, "fill", str(o, "fillColor"), dflt_fill);
}

/* The points as "x,y x,y ..." (absolute), or as a path "M x y L ...". */
static void put_points(FILE *f, json_t *o, int path)
{
    double x = num(o, "x", 0), y = num(o, "y", 0);
    json_t *pts = json_object_get(o, "points");
    size_t i;
    json_t *p;
    json_array_foreach(pts, i, p)
    {
        if (path)
            fputs(i ? " L " : "M ", f);
        else if (i)
            fputc(' ', f);
        put_num(f, x + json_number_value(json_array_get(p, 0)));
        fputc(path ? ' ' : ',', f);
        put_num(f, y + json_number_value(json_array_get(p, 1)));
    }
}

static void put_text_el(FILE *f, json_t *o, double x, double y)
{
    const char *t = str(o, "text");
    double fs = num(o, "fontSize", 16);
    fputs("<text", f);
    put_attr(f, "x", x);
    put_attr(f, "y", y + fs);
    put_attr(f, "font-size", fs);
    fputs(" font-family=\"sans-serif\"", f);
    put_color(f, "fill", str(o, "strokeColor"), "#000000");
    fputc('>', f);
    put_text(f, t ? t : "");
    fputs("</text>", f);
}

static void put_box(FILE *f, const char *tag, json_t *o, const char *fill)
{
    double x = num(o, "x", 0), y = num(o, "y", 0);
    double w = num(o, "width", 0), h = num(o, "height", 0);
    if (strcmp(tag, "ellipse") == 0) {
        fputs("<ellipse", f);
        put_attr(f, "cx", x + w / 2);
        put_attr(f, "cy", y + h / 2);
        put_attr(f, "rx", w / 2);
        put_attr(f, "ry", h / 2);
    } else {
        fputs("<rect", f);
        put_attr(f, "x", x);
        put_attr(f, "y", y);
        put_attr(f, "width", w);
        put_attr(f, "height", h);
    }
    put_stroke(f, o, fill);
    fputs("/>", f);
}

static void put_element(FILE *f, const svg_el *e)
{
    json_t *o = e->obj;
    double x = num(o, "x", 0), y = num(o, "y", 0);
    fputs("  <g data-id=\"", f);
    put_text(f, e->id);
    fprintf(f, "\" data-type=\"%s\"", e->type);
    double rot = num(o, "rotation", 0);
    if (rot != 0) {
        fputs(" transform=\"rotate(", f);
        put_num(f, rot);
        fputc(' ', f);
        put_num(f, x + num(o, "width", 0) / 2);
        fputc(' ', f);
        put_num(f, y + num(o, "height", 0) / 2);
        fputs(")\"", f);
    }
    if (json_is_number(json_object_get(o, "opacity")))
        put_attr(f, "opacity", num(o, "opacity", 100) / 100);
    fputc('>', f);
    const char *t = e->type;
    if (!strcmp(t, "rect") || !strcmp(t, "ellipse")) {
        put_box(f, t, o, "none");
    } else if (!strcmp(t, "line") || !strcmp(t, "arrow")) {
        fputs("<polyline points=\"", f);
        put_points(f, o, 0);
        fputc('"', f);
        put_stroke(f, o, NULL);
        fputs(" fill=\"none\"", f);
        if (!strcmp(t, "arrow"))
            fputs(" marker-end=\"url(#wb-arrow)\"", f);
        fputs("/>", f);
    } else if (!strcmp(t, "stroke")) {
        fputs("<path d=\"", f);
        put_points(f, o, 1);
        fputc('"', f);
        put_stroke(f, o, NULL);
        fputs(" fill=\"none\" stroke-linecap=\"round\" "
              "stroke-linejoin=\"round\"/>", f);
    } else if (!strcmp(t, "text")) {
        put_text_el(f, o, x, y);
    } else if (!strcmp(t, "sticky")) {
        put_box(f, "rect", o, "#fff59d");
        put_text_el(f, o, x + 8, y + 8);
    }
    fputs("</g>\n", f);
}

static int el_cmp(const void *a, const void *b)
{
    const svg_el *x = a, *y = b;
    int c = strcmp(x->z ? x->z : "", y->z ? y->z : "");
    return c ? c : strcmp(x->id, y->id);
}

/* Grows [minx, maxx] x [miny, maxy] by the element's box and points. */
static void extend(json_t *o, double box[4], int *any)
{
    double x = num(o, "x", 0), y = num(o, "y", 0);
    double pts[2][2] = {{x, y}, {x + num(o, "width", 0), y + num(o, "height", 0)}};
    for (int i = 0; i < 2; i++) {
        if (!*any || pts[i][0] < box[0]) box[0] = pts[i][0];
        if (!*any || pts[i][1] < box[1]) box[1] = pts[i][1];
        if (!*any || pts[i][0] > box[2]) box[2] = pts[i][0];
        if (!*any || pts[i][1] > box[3]) box[3] = pts[i][1];
        *any = 1;
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(o, "points"), i, p)
    {
        double px = x + json_number_value(json_array_get(p, 0));
        double py = y + json_number_value(json_array_get(p, 1));
        if (px < box[0]) box[0] = px;
        if (py < box[1]) box[1] = py;
        if (px > box[2]) box[2] = px;
        if (py > box[3]) box[3] = py;
    }
}

int wbctl_svg_render(const char *board_json, FILE *f)
{
    json_error_t err;
    json_t *doc = json_loads(board_json, 0, &err);
    json_t *els = json_object_get(doc, "elements");
    if (!doc || !json_is_array(els)) {
        json_decref(doc);
        return WB_EMALFORMED;
    }
    size_t n = json_array_size(els), k = 0;
    svg_el *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        json_decref(doc);
        return WB_ENOMEM;
    }
    double box[4] = {0, 0, 100, 100};
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(els, i);
        const char *id = str(o, "id"), *type = str(o, "type");
        if (!id || !type)
            continue;
        v[k++] = (svg_el){o, id, type, str(o, "z")};
        extend(o, box, &any);
    }
    qsort(v, k, sizeof *v, el_cmp);
    const char *bid = str(doc, "id");
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"", f);
    put_num(f, box[0] - 20);
    fputc(' ', f);
    put_num(f, box[1] - 20);
    fputc(' ', f);
    put_num(f, box[2] - box[0] + 40);
    fputc(' ', f);
    put_num(f, box[3] - box[1] + 40);
    fputs("\" data-board=\"", f);
    put_text(f, bid ? bid : "");
    fputs("\">\n  <defs><marker id=\"wb-arrow\" viewBox=\"0 0 10 10\" "
          "refX=\"9\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" "
          "orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\"/>"
          "</marker></defs>\n", f);
    for (size_t i = 0; i < k; i++)
        put_element(f, &v[i]);
    fputs("</svg>\n", f);
    free(v);
    json_decref(doc);
    return 0;
}
