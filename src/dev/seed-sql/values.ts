// Word lists and awkward text values the sample-database seed draws from, as SQL expressions.
import { literal } from './random';

/** public.countries rows: code, name, currency, phone prefix, EU member (null = unknown). */
export const COUNTRIES: readonly (readonly [string, string, string | null, string | null, boolean | null])[] =
  [
    ['AT', 'Österreich', 'EUR', '+43', true],
    ['BE', 'België / Belgique', 'EUR', '+32', true],
    ['BR', 'Brasil', 'BRL', '+55', false],
    ['CA', 'Canada', 'CAD', '+1', false],
    ['CH', 'Schweiz', 'CHF', '+41', false],
    ['CI', "Côte d'Ivoire", 'XOF', '+225', false],
    ['CN', '中国', 'CNY', '+86', false],
    ['DE', 'Deutschland', 'EUR', '+49', true],
    ['DK', 'Danmark', 'DKK', '+45', true],
    ['ES', 'España', 'EUR', '+34', true],
    ['FI', 'Suomi', 'EUR', '+358', true],
    ['FR', 'France', 'EUR', '+33', true],
    ['GB', 'United Kingdom', 'GBP', '+44', false],
    ['GR', 'Ελλάδα', 'EUR', '+30', true],
    ['IE', 'Éire', 'EUR', '+353', true],
    ['IN', 'India', 'INR', '+91', false],
    ['IT', 'Italia', 'EUR', '+39', true],
    ['JP', '日本', 'JPY', '+81', false],
    ['KR', '대한민국', 'KRW', '+82', false],
    ['MX', 'México', 'MXN', '+52', false],
    ['NL', 'Nederland', 'EUR', '+31', true],
    ['NO', 'Norge', 'NOK', '+47', null],
    ['PL', 'Polska', 'PLN', '+48', true],
    ['PT', 'Portugal', 'EUR', '+351', true],
    ['SE', 'Sverige', 'SEK', '+46', true],
    ['US', 'United States', 'USD', '+1', false],
    ['ZA', 'South Africa', 'ZAR', '+27', false],
    ['XK', 'Kosovo', null, '+383', null],
    ['AQ', 'Antarctica', null, null, null],
    ['EU', 'European Union', 'EUR', null, null],
  ];

/** Country codes as SQL literals, for `choose`. */
export const COUNTRY_CODES = COUNTRIES.map(([code]) => literal(code));

const lits = (xs: readonly string[]) => xs.map(literal);

export const FIRST_NAMES = lits([
  'Anna',
  'Ben',
  'Chloé',
  'David',
  'Emma',
  'François',
  'Günther',
  'Hana',
  'Ivan',
  'José',
  'Kai',
  'Lena',
  'Mohammed',
  'Nora',
  'Ørjan',
  'Priya',
  'Quentin',
  'Rosa',
  'Søren',
  'Tomás',
  'Uma',
  'Víctor',
  'Wei',
  'Xenia',
  'Yuki',
  'Zoë',
]);

export const LAST_NAMES = lits([
  "O'Brien",
  'Müller',
  'Núñez',
  'van der Berg',
  'Smith-Jones',
  'Kowalski',
  'Rossi',
  'Nakamura',
  'Dubois',
  'García',
  'Øster',
  'Papadopoulos',
  'Li',
  'Johansson',
  'MacDonald',
  "D'Angelo",
]);

export const ADJECTIVES = lits([
  'Classic',
  'Compact',
  'Deluxe',
  'Eco',
  'Heavy-Duty',
  'Mini',
  'Pro',
  'Smart',
  'Ultra',
  'Vintage',
]);

export const NOUNS = lits([
  'Kettle',
  'Lamp',
  'Backpack',
  'Drill',
  'Chair',
  'Headphones',
  'Notebook',
  'Teapot',
  'Tent',
  'Watch',
  'Blender',
  'Jacket',
  'Bücherregal',
  'Café Table',
  'Umbrella',
]);

export const CITIES = lits([
  'Berlin',
  'München',
  'Lyon',
  'São Paulo',
  'Zürich',
  'Kraków',
  'Tokyo',
  'Reno',
  'Dublin',
]);

export const STREETS = lits(['Hauptstraße', 'Rue de la Paix', 'Main St', 'Calle Mayor', 'Baker Street']);

export const COLORS = lits(['red', 'green', 'blue', 'black', 'white', 'anthracite', 'rosé']);

export const SIZES = lits(['XS', 'S', 'M', 'L', 'XL', 'XXL', 'Einheitsgröße']);

/** Array elements that stress array text formats: quotes, commas, braces, backslashes, the word NULL. */
export const TAGS = [
  ...lits([
    'vip',
    'b2b',
    'newsletter',
    'returns-often',
    'gift "card"',
    'comma,inside',
    'brace{}',
    'NULL',
    '',
  ]),
  `'back' || chr(92) || 'slash'`,
];

/**
 * Text values that break naive quoting, COPY and CSV handling: quotes, tabs, CR/LF, backslashes,
 * a line holding only `\.` (the end-of-data marker of COPY), `\N` as text, the empty string, emoji.
 */
export const AWKWARD_TEXTS = [
  literal(`Customer said: "leave it at the back door" and it's urgent`),
  `'tab' || chr(9) || 'separated' || chr(9) || 'values'`,
  `'line one' || chr(10) || 'line two' || chr(13) || chr(10) || 'line three after CRLF'`,
  `'C:' || chr(92) || 'Users' || chr(92) || 'shop' || chr(92) || 'export.csv'`,
  `'end-of-copy marker on its own line:' || chr(10) || chr(92) || '.' || chr(10) || 'and text after it'`,
  `'backslash-N ' || chr(92) || 'N is text, not NULL'`,
  literal('emoji 🙂📦, umlauts äöü ß, CJK 東京, RTL שלום'),
  literal(`comma, semicolon; pipe | and "double" 'single' quotes`),
  literal('NULL'),
  literal(''),
  literal('   leading and trailing spaces   '),
  literal('plain note'),
];
