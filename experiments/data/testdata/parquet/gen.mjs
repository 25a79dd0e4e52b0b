// Writes the Parquet fixtures of experiments/data's tests with another
// implementation than the Go reader (hyparquet-writer, JavaScript):
//
//   mkdir -p /tmp/pq && cd /tmp/pq && npm init -y && npm install hyparquet-writer@0.17.0
//   cp experiments/data/testdata/parquet/gen.mjs /tmp/pq/
//   (cd /tmp/pq && node gen.mjs "$OLDPWD/experiments/data/testdata/parquet")
//
// Every text is invented for these tests. The files:
//
//   strings.parquet   prompt/chosen/rejected strings (TRL's explicit-prompt
//                     layout), a double and an int64 column, a nullable
//                     string column with a null; row groups of 3 rows, so
//                     reading crosses row groups; one pair with chosen ==
//                     rejected and one with an empty rejected (skip rule).
//   messages-00000-of-00002.parquet, messages-00001-of-00002.parquet
//                     the layout of HF preference datasets such as
//                     ultrafeedback_binarized: prompt (string), chosen and
//                     rejected as lists of {role, content} structs (whole
//                     conversations, the user turn first), score_chosen,
//                     score_rejected (double); two shards.
//   hh.parquet        raw HH layout: chosen/rejected whole dialogues.
//   bad.parquet       bad records: row 2 has a null chosen, row 3 a
//                     rejected that is not UTF-8 (a plain BYTE_ARRAY).
import { parquetWriteFile } from 'hyparquet-writer'
import path from 'node:path'

const out = process.argv[2] || '.'

const topics = ['kettle', 'lantern', 'compass', 'garden hose', 'chess clock', 'weather vane', 'bread oven', 'ink pen']

// strings.parquet
{
  const prompt = [], chosen = [], rejected = [], score = [], id = [], note = []
  topics.forEach((t, i) => {
    prompt.push(`How do I look after a ${t}?`)
    chosen.push(`Keep the ${t} dry and check it once a week. ✓`)
    rejected.push(`A ${t} needs no care at all.`)
    score.push(7.5 - i * 0.25)
    id.push(BigInt(1000 + i))
    note.push(i % 3 === 1 ? null : `note “${i}”`)
  })
  chosen[5] = rejected[5] // skipped: chosen_equals_rejected
  rejected[6] = '' // skipped: empty_rejected
  parquetWriteFile({
    filename: path.join(out, 'strings.parquet'),
    columnData: [
      { name: 'prompt', data: prompt, type: 'STRING' },
      { name: 'chosen', data: chosen, type: 'STRING' },
      { name: 'rejected', data: rejected, type: 'STRING' },
      { name: 'score_chosen', data: score, type: 'DOUBLE' },
      { name: 'record_id', data: id, type: 'INT64' },
      { name: 'note', data: note, type: 'STRING' },
    ],
    rowGroupSize: 3,
  })
}

// messages-*.parquet: chosen/rejected are list<struct<content, role>>,
// with the standard three-level LIST layout pyarrow writes.
const msgSchema = name => [
  { name, repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
]
const shards = [topics.slice(0, 5), topics.slice(5)]
shards.forEach((ts, s) => {
  const prompt = [], chosen = [], rejected = [], sc = [], sr = [], pid = []
  ts.forEach((t, i) => {
    const p = `Write one line about a ${t}.`
    prompt.push(p)
    chosen.push([{ content: p, role: 'user' }, { content: `A ${t} is small, useful and easy to mend.`, role: 'assistant' }])
    rejected.push([{ content: p, role: 'user' }, { content: `I would rather not talk about a ${t}.`, role: 'assistant' }])
    sc.push(8 - i)
    sr.push(2 + i * 0.5)
    pid.push(`p${s}${i}`)
  })
  if (s === 1) {
    // a two-turn conversation that differs only in its last answer
    const p = 'Name a colour.'
    prompt.push(p)
    const common = [{ content: p, role: 'user' }, { content: 'Blue.', role: 'assistant' }, { content: 'Another one?', role: 'user' }]
    chosen.push([...common, { content: 'Green.', role: 'assistant' }])
    rejected.push([...common, { content: 'Blue again.', role: 'assistant' }])
    sc.push(6)
    sr.push(1)
    pid.push('p1x')
  }
  parquetWriteFile({
    filename: path.join(out, `messages-0000${s}-of-00002.parquet`),
    columnData: [
      { name: 'prompt', data: prompt },
      { name: 'chosen', data: chosen },
      { name: 'rejected', data: rejected },
      { name: 'prompt_id', data: pid },
      { name: 'score_chosen', data: sc },
      { name: 'score_rejected', data: sr },
    ],
    schema: [
      { name: 'root', num_children: 6 },
      { name: 'prompt', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      ...msgSchema('chosen'),
      ...msgSchema('rejected'),
      { name: 'prompt_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'score_chosen', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
      { name: 'score_rejected', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
    ],
    rowGroupSize: 2,
  })
})

// hh.parquet: whole dialogues, the prompt is their common part.
{
  const chosen = [], rejected = []
  topics.slice(0, 4).forEach(t => {
    const h = `\n\nHuman: Is a ${t} hard to use?\n\nAssistant:`
    chosen.push(`${h} Not at all, a ${t} takes a minute to learn.`)
    rejected.push(`${h} Yes, nobody can use a ${t}.`)
  })
  parquetWriteFile({
    filename: path.join(out, 'hh.parquet'),
    columnData: [
      { name: 'chosen', data: chosen, type: 'STRING' },
      { name: 'rejected', data: rejected, type: 'STRING' },
    ],
  })
}

// bad.parquet
{
  const enc = new TextEncoder()
  parquetWriteFile({
    filename: path.join(out, 'bad.parquet'),
    columnData: [
      { name: 'prompt', data: ['Say hi.', 'Say bye.', 'Say yes.'], type: 'STRING' },
      { name: 'chosen', data: ['Hi!', null, 'Yes.'], type: 'STRING' },
      { name: 'rejected', data: [enc.encode('No.'), enc.encode('Nope.'), new Uint8Array([0x4e, 0xff, 0x6f])], type: 'BYTE_ARRAY' },
    ],
  })
}
