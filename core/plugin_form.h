/* plugin_form.h - forms declared as data (prefix pform_).
 *
 * A plugin declares forms in its manifest:
 *   forms = { couple = { title = {zh = "..."}, fields = {
 *       { name = "wife_name", type = "text", label = "女方姓名", required = true, max = 50,
 *         help = "..." },
 *       { name = "basis", type = "enum", label = "...", choices = { {"local", "本地户籍"}, {"resident", "居住满6个月"} } },
 *       { name = "months", type = "number", min = 0, max = 600, show_if = { field = "basis", equals = "resident" } },
 *       { name = "consent", type = "consent", label = "...", purpose = "..." },
 *     }, validate = function(values, ctx) return { field = "message" } or nil end } }
 * Field types: text, textarea, phone, idcard, date, datetime, number, enum,
 * multiselect, yesno, consent. The host validates (core/valid.c underneath),
 * renders through the core partial "form_fields" (escaped), and exports the
 * schema as JSON for API clients.
 *
 * The declaration, checked by pform_compile (anything else is an error):
 *   form:  title (text, optional), fields (a list, 1..100), validate (function, optional)
 *   field: name    [a-z][a-z0-9_]*, at most 48 bytes, unique in the form
 *          type    one of the types above
 *          label   text (required)
 *          help    text (optional)
 *          required  boolean (default false)
 *          min, max  integers: text/textarea length in characters (defaults 0 and
 *                  100 / 1000), number range (either may be left out),
 *                  multiselect count of ticked choices
 *          choices enum/multiselect (required, 1..200): {value, label} pairs,
 *                  {value = ..., label = ...} tables or plain strings (value = label)
 *          purpose consent (required): why the data is collected, shown with the box
 *          show_if {field = "x", equals = v or {v1, v2, ...}}: x must be an enum,
 *                  multiselect, yesno or consent field, each v one of its choices
 *                  (true/false for yesno and consent); chains are allowed, cycles not
 *   "text" above is a string or {zh = "...", en = "..."} (zh required; en is only
 *   exported in the schema as label_en, help_en, purpose_en, title_en).
 *
 * Values after validation: text-like types and enum as strings (phone: 11 digits;
 * idcard: X upper case; datetime: "YYYY-MM-DD HH:MM:SS" in Beijing time, an offset
 * given in the input is applied), number as an integer, yesno as true/false,
 * consent as true/false (false when not ticked), multiselect as an array of
 * choice values in declared order (no duplicates). A field whose show_if does
 * not hold is neither required nor kept, nor are its errors reported. */
#ifndef PORTAL_PLUGIN_FORM_H
#define PORTAL_PLUGIN_FORM_H
#include <jansson.h>
#include <lua.h>
#include "arena.h"
#include "form.h"

typedef struct pform pform;

/* Compile the form table at idx. err names plugin, form, field and problem
 * ("outreach: forms.couple.fields[3] (months): unknown type \"num\""). The
 * optional validate function is kept as a registry reference (pform_validate_ref).
 * Reads the table with raw access only (no metamethods run) inside a protected
 * call, so a hostile table cannot raise through the caller. NULL on error. */
pform *pform_compile(lua_State *L, int idx, const char *plugin_id, const char *name, char *err, size_t errlen);
/* Free a compiled form. It does not touch the Lua state (the validate
 * reference is released when the state is closed), so forms and their state
 * may be freed in either order. NULL is allowed. */
void pform_free(pform *f);
const char *pform_name(const pform *f);
/* The form's title (zh-CN); the form name when none was declared. */
const char *pform_title(const pform *f);
/* Registry reference of the form's Lua validate function, or LUA_NOREF. */
int pform_validate_ref(const pform *f);
/* Validate input given either as a parsed form (browser) or a JSON object
 * (API; jin != NULL). *values gets a JSON object of normalised values (only
 * fields that are shown under their conditions), *errors a JSON object
 * field -> zh-CN message (empty when valid). Unknown fields in jin are errors
 * ("unknown_field"). Returns the number of errors. */
int pform_validate(const pform *f, arena *a, const form *in, json_t *jin, json_t **values, json_t **errors);
/* pform_validate, also filling *codes (when codes != NULL) with a JSON object
 * field -> stable error code ("required", "invalid_phone", "unknown_field",
 * "invalid_type", "too_few", "too_many", "out_of_range", ...) for API clients.
 * A jin that is not an object gives the one error "_form" ("invalid_json"). */
int pform_validate_codes(const pform *f, arena *a, const form *in, json_t *jin,
                         json_t **values, json_t **errors, json_t **codes);
/* What was submitted, as typed, for showing a rejected form again: a JSON
 * object of the form's own fields (first value of each; an array for
 * multiselect). Pass it to pform_view as values. (For JSON input pass jin.) */
json_t *pform_input(const pform *f, const form *in);
/* The view model the "form_fields" partial renders: JSON array of
 * {name, label, type, help, required, value, error, choices:[{value,label,selected}],
 *  show_if:{field, equals}, input:"text"|"tel"|"date"|...}. values/errors may be NULL.
 * values may be pform_validate's values or pform_input's raw input. Every key
 * is present in every item (null, "" or false when unused) so template names
 * never resolve outward to the page's data; the extra keys (id, describedby,
 * widget, purpose, checked, min, max, maxlength, inputmode, autocomplete,
 * show_if.equals_json, show_if.text) are documented in form_fields.html.
 * Error messages are shown with any run of 15+ ID-number characters masked
 * to its last four, so no full ID number is echoed back in an error. */
json_t *pform_view(const pform *f, json_t *values, json_t *errors);
/* Schema for API clients: {name, title, fields:[{name,type,label,required,min,max,choices,show_if,help,purpose}]}.
 * Keys that do not apply are left out; min/max are the enforced bounds
 * (text defaults included); show_if is {field, equals:[...]}, equals holding
 * booleans for yesno/consent targets; *_en keys appear when declared. */
json_t *pform_schema(const pform *f);

#endif
