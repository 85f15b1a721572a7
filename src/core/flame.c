// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Flame graph SVG (core/flame.h). Layout: width proportional to samples,
 * root at the bottom; frames narrower than a tenth of a pixel are left out
 * with their children. The script works on data attributes (x and width in
 * samples, depth), so zooming is exact whatever the drawn width.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/flame.h"

struct fnode {
	char *name;
	bool kernel;
	uint64_t count;
	struct fnode *child, *next;
};

struct vigil_flame {
	struct fnode root;
	int depth;
};

#define FL_WIDTH 1200
#define FL_FRAME 16
#define FL_TOP 44
#define FL_BOTTOM 30
#define FL_PAD 10

struct vigil_flame *vigil_flame_new(void)
{
	return calloc(1, sizeof(struct vigil_flame));
}

static void node_free(struct fnode *n)
{
	while (n) {
		struct fnode *next = n->next;

		node_free(n->child);
		free(n->name);
		free(n);
		n = next;
	}
}

void vigil_flame_free(struct vigil_flame *fl)
{
	if (!fl)
		return;
	node_free(fl->root.child);
	free(fl);
}

int vigil_flame_add(struct vigil_flame *fl, const char *const *frames, const bool *kernel, int n,
		    uint64_t count)
{
	struct fnode *at = &fl->root;

	at->count += count;
	for (int i = 0; i < n; i++) {
		struct fnode *c;
		bool k = kernel && kernel[i];

		for (c = at->child; c; c = c->next)
			if (c->kernel == k && !strcmp(c->name, frames[i]))
				break;
		if (!c) {
			c = calloc(1, sizeof(*c));
			if (!c || !(c->name = strdup(frames[i]))) {
				free(c);
				return -ENOMEM;
			}
			c->kernel = k;
			c->next = at->child;
			at->child = c;
		}
		c->count += count;
		at = c;
	}
	if (n > fl->depth)
		fl->depth = n;
	return 0;
}

uint64_t vigil_flame_total(const struct vigil_flame *fl)
{
	return fl->root.count;
}

static uint64_t frame_total(const struct fnode *n, const char *name)
{
	uint64_t t = 0;

	for (; n; n = n->next)
		t += !strcmp(n->name, name) ? n->count : frame_total(n->child, name);
	return t;
}

uint64_t vigil_flame_frame_total(const struct vigil_flame *fl, const char *name)
{
	return frame_total(fl->root.child, name);
}

static void xml_text(FILE *f, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = s[i];

		if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c < 0x20 || c == 0x7f)
			fputc('?', f);
		else
			fputc(c, f);
	}
}

static unsigned int name_hash(const char *s)
{
	unsigned int h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* warm for user code, blue for the kernel's, grey for the process (depth 0) */
static void colour(const struct fnode *n, int depth, char *buf, size_t len)
{
	unsigned int h = name_hash(n->name);
	int a = h % 55, b = (h >> 8) % 70, c = (h >> 16) % 40;

	if (depth == 0)
		snprintf(buf, len, "rgb(%d,%d,%d)", 160 + a / 2, 160 + a / 2, 170 + a / 2);
	else if (n->kernel)
		snprintf(buf, len, "rgb(%d,%d,%d)", 60 + c, 140 + b, 200 + a);
	else
		snprintf(buf, len, "rgb(%d,%d,%d)", 200 + a, 90 + b * 2, 40 + c);
}

struct svg_ctx {
	FILE *f;
	uint64_t total;
	double scale;		/* pixels per sample */
	int height;
	const char *unit;
};

static void node_svg(struct svg_ctx *x, const struct fnode *n, uint64_t x0, int depth)
{
	double px = FL_PAD + x0 * x->scale, pw = n->count * x->scale;
	int py = x->height - FL_BOTTOM - (depth + 1) * FL_FRAME;
	size_t fit = pw > 6 ? (size_t)((pw - 6) / 7) : 0, len = strlen(n->name);
	char fill[32];

	if (pw < 0.1)
		return;
	colour(n, depth, fill, sizeof(fill));
	fprintf(x->f, "<g class=\"f\" data-x=\"%llu\" data-w=\"%llu\" data-d=\"%d\"><title>",
		(unsigned long long)x0, (unsigned long long)n->count, depth);
	xml_text(x->f, n->name, (size_t)-1);
	fprintf(x->f, " (%llu %s, %.2f%%)</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		"height=\"%d\" fill=\"%s\" rx=\"2\"/><text x=\"%.1f\" y=\"%d\">",
		(unsigned long long)n->count, x->unit, 100.0 * n->count / x->total, px, py, pw,
		FL_FRAME - 1, fill, px + 3, py + 11);
	if (fit >= 3) {
		xml_text(x->f, n->name, fit < len ? fit - 2 : len);
		if (fit < len)
			fputs("..", x->f);
	}
	fputs("</text></g>\n", x->f);
	/* children sorted by name, as flamegraph.pl draws them */
	size_t nc = 0, i = 0;
	const struct fnode *c;

	for (c = n->child; c; c = c->next)
		nc++;
	if (!nc)
		return;
	const struct fnode **v = malloc(nc * sizeof(*v));

	if (!v)
		return;
	for (c = n->child; c; c = c->next)
		v[i++] = c;
	for (size_t a = 1; a < nc; a++)		/* insertion sort: children are few */
		for (size_t b = a; b > 0 && strcmp(v[b - 1]->name, v[b]->name) > 0; b--) {
			const struct fnode *t = v[b];

			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	for (i = 0; i < nc; i++) {
		node_svg(x, v[i], x0, depth + 1);
		x0 += v[i]->count;
	}
	free(v);
}

static const char flame_css[] =
	"text{font-family:monospace;font-size:12px;fill:#000}"
	"g.f{cursor:pointer}g.f:hover rect{stroke:#000;stroke-width:.5}"
	".ui{font-size:12px;cursor:pointer;fill:#333}#title{font-size:17px;text-anchor:middle}";

/* the script: zoom on click, search by regular expression, details on hover */
static const char flame_js[] =
	"var W=" "1180" ",PAD=10,all=[],zoomed=null,matched=null;\n"
	"function $(i){return document.getElementById(i);}\n"
	"function init(){var gs=document.querySelectorAll('g.f');\n"
	" for(var i=0;i<gs.length;i++){var g=gs[i];g.fx=+g.getAttribute('data-x');\n"
	"  g.fw=+g.getAttribute('data-w');g.fd=+g.getAttribute('data-d');\n"
	"  g.fname=g.querySelector('title').textContent.replace(/ \\([^(]*\\)$/,'');\n"
	"  g.onclick=function(){zoom(this);};\n"
	"  g.onmouseover=function(){$('details').textContent=this.querySelector('title').textContent;};\n"
	"  g.onmouseout=function(){$('details').textContent=' ';};all.push(g);}\n"
	" $('reset').onclick=function(){zoom(null);};$('search').onclick=function(){ask();};\n"
	" $('clear').onclick=function(){search('');};\n"
	" window.addEventListener('keydown',function(e){if((e.ctrlKey||e.metaKey)&&e.key=='f'){e.preventDefault();ask();}});\n"
	" var m=/[?&]s=([^&]*)/.exec(location.search);if(m)search(decodeURIComponent(m[1]));}\n"
	"function label(g,w){var t=g.querySelector('text'),n=Math.floor((w-6)/7);\n"
	" t.textContent=n<3?'':(g.fname.length<=n?g.fname:g.fname.substr(0,n-2)+'..');}\n"
	"function place(g,x,w){var r=g.querySelector('rect'),t=g.querySelector('text');\n"
	" r.setAttribute('x',x.toFixed(1));r.setAttribute('width',w.toFixed(1));\n"
	" t.setAttribute('x',(x+3).toFixed(1));label(g,w);}\n"
	"function zoom(z){zoomed=z;var X=z?z.fx:0,Wd=z?z.fw:TOTAL,D=z?z.fd:0;\n"
	" $('reset').style.display=z?'':'none';\n"
	" for(var i=0;i<all.length;i++){var g=all[i];\n"
	"  if(g.fd<D&&g.fx<=X&&g.fx+g.fw>=X+Wd){g.style.display='';g.style.opacity=z?0.6:1;place(g,PAD,W);continue;}\n"
	"  if(g.fx>=X&&g.fx+g.fw<=X+Wd&&g.fd>=D){var w=g.fw/Wd*W;\n"
	"   if(w<0.1){g.style.display='none';continue;}\n"
	"   g.style.display='';g.style.opacity=1;place(g,PAD+(g.fx-X)/Wd*W,w);continue;}\n"
	"  g.style.display='none';}}\n"
	"function ask(){var s=prompt('search (regular expression)',matched||'');if(s!==null)search(s);}\n"
	"function search(s){matched=s||null;var re=null;try{re=s?new RegExp(s):null;}catch(e){re=null;}\n"
	" var spans=[];\n"
	" for(var i=0;i<all.length;i++){var g=all[i],r=g.querySelector('rect');\n"
	"  if(!r.hasAttribute('data-fill'))r.setAttribute('data-fill',r.getAttribute('fill'));\n"
	"  if(re&&re.test(g.fname)){r.setAttribute('fill','rgb(230,0,230)');spans.push([g.fx,g.fx+g.fw]);}\n"
	"  else r.setAttribute('fill',r.getAttribute('data-fill'));}\n"
	" spans.sort(function(a,b){return a[0]-b[0]||b[1]-a[1];});var sum=0,end=-1;\n"
	" for(var j=0;j<spans.length;j++){var a=spans[j][0],b=spans[j][1];\n"
	"  if(a>=end){sum+=b-a;end=b;}else if(b>end){sum+=b-end;end=b;}}\n"
	" $('matched').textContent=re?'matched: '+(100*sum/TOTAL).toFixed(2)+'%':' ';\n"
	" $('clear').style.display=re?'':'none';}\n"
	"window.addEventListener('load',init);\n";

int vigil_flame_svg(const struct vigil_flame *fl, FILE *f, const char *title, const char *unit)
{
	struct svg_ctx x = { f, fl->root.count ? fl->root.count : 1, 0, 0, unit };
	uint64_t x0 = 0;

	x.height = FL_TOP + (fl->depth ? fl->depth : 1) * FL_FRAME + FL_BOTTOM;
	x.scale = (double)(FL_WIDTH - 2 * FL_PAD) / x.total;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\">\n<style>%s</style>\n<script type=\"text/ecmascript\"><![CDATA[\n"
		"var TOTAL=%llu;\n%s]]></script>\n"
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n"
		"<text id=\"title\" x=\"%d\" y=\"22\">",
		FL_WIDTH, x.height, FL_WIDTH, x.height, flame_css, (unsigned long long)x.total, flame_js,
		FL_WIDTH, x.height, FL_WIDTH / 2);
	xml_text(f, title, (size_t)-1);
	fprintf(f, "</text>\n<text id=\"reset\" class=\"ui\" x=\"%d\" y=\"22\" style=\"display:none\">"
		"reset zoom</text>\n<text id=\"search\" class=\"ui\" x=\"%d\" y=\"22\">search</text>\n"
		"<text id=\"clear\" class=\"ui\" x=\"%d\" y=\"38\" style=\"display:none\">clear</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%d\" style=\"text-anchor:end\"> </text>\n",
		FL_PAD, FL_WIDTH - FL_PAD - 50, FL_WIDTH - FL_PAD - 50, FL_PAD, x.height - 10,
		FL_WIDTH - FL_PAD, x.height - 10);
	/* depth 0 rows: the processes, sorted by name like every level */
	struct fnode top = { (char *)"all", false, fl->root.count, fl->root.child, NULL };
	size_t nc = 0, i = 0;
	const struct fnode *c;

	for (c = top.child; c; c = c->next)
		nc++;
	const struct fnode **v = malloc((nc ? nc : 1) * sizeof(*v));

	if (!v)
		return -1;
	for (c = top.child; c; c = c->next)
		v[i++] = c;
	for (size_t a = 1; a < nc; a++)
		for (size_t b = a; b > 0 && strcmp(v[b - 1]->name, v[b]->name) > 0; b--) {
			const struct fnode *t = v[b];

			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	for (i = 0; i < nc; i++) {
		node_svg(&x, v[i], x0, 0);
		x0 += v[i]->count;
	}
	free(v);
	fputs("</svg>\n", f);
	return ferror(f) ? -1 : 0;
}
