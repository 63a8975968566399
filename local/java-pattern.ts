/** A Java regular expression rewritten for JavaScript, or why it could not be. */
export type PatternTranslation = { source: string; flags: string } | { unsupported: string };

/**
 * Rewrites a `java.util.regex` pattern (the dialect of botocore's `pattern` constraints) as a JavaScript
 * pattern with the same meaning under the `u` flag, matched against the whole value as AWS matches it.
 * Where JavaScript's meaning differs (`\s`, `.`, POSIX classes, `\Q…\E`, octal escapes) the rewrite
 * spells Java's out; a construct JavaScript cannot express (possessive quantifiers, atomic groups,
 * inline flags after the start, class intersections, Unicode blocks) is reported, not approximated.
 */
export function translateJavaPattern(pattern: string): PatternTranslation {
  try {
    const { body, flags } = leadingFlags(pattern);
    const source = new Translator(body, flags.includes('s')).run();
    const jsFlags = `${flags.includes('i') ? 'i' : ''}u`;
    new RegExp(`^(?:${source})$`, jsFlags);
    return { source, flags: jsFlags };
  } catch (error) {
    return { unsupported: error instanceof Error ? error.message : String(error) };
  }
}

/** A compiled translation that tests a whole value, as `Pattern.matches` does. */
export function wholeValueMatcher(translation: { source: string; flags: string }): RegExp {
  return new RegExp(`^(?:${translation.source})$`, translation.flags);
}

class Unsupported extends Error {}

/** A set of code points as inclusive ranges, to spell Java's classes (and their complements) out. */
type CodePoints = readonly (readonly [number, number])[];

// Java's defaults are ASCII: \s is [ \t\n\x0B\f\r]; `.` stops at every Java line terminator.
const JAVA_SPACE: CodePoints = [
  [0x09, 0x0d],
  [0x20, 0x20],
];
const JAVA_DOT = '[^\\n\\r\\u0085\\u2028\\u2029]';
const HORIZONTAL_SPACE: CodePoints = [
  [0x09, 0x09],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x180e, 0x180e],
  [0x2000, 0x200a],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];
const VERTICAL_SPACE: CodePoints = [
  [0x0a, 0x0d],
  [0x85, 0x85],
  [0x2028, 0x2029],
];

/** Java's POSIX classes (US-ASCII only unless UNICODE_CHARACTER_CLASS). */
const POSIX_CLASSES: Record<string, CodePoints> = {
  Lower: [[0x61, 0x7a]],
  Upper: [[0x41, 0x5a]],
  ASCII: [[0x00, 0x7f]],
  Alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  Digit: [[0x30, 0x39]],
  Alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  Punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  Graph: [[0x21, 0x7e]],
  Print: [[0x20, 0x7e]],
  Blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  Cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  XDigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
  Space: JAVA_SPACE,
};

/** Class members for a set of code points (`\u{…}` escapes, valid under the u flag). */
function members(points: CodePoints): string {
  const point = (code: number) => `\\u{${code.toString(16)}}`;
  return points.map(([low, high]) => (low === high ? point(low) : `${point(low)}-${point(high)}`)).join('');
}

/** Every code point not in the (sorted, disjoint) set. */
function complement(points: CodePoints): CodePoints {
  const result: [number, number][] = [];
  let next = 0;
  for (const [low, high] of points) {
    if (low > next) result.push([next, low - 1]);
    next = high + 1;
  }
  if (next <= 0x10ffff) result.push([next, 0x10ffff]);
  return result;
}

const GENERAL_CATEGORIES = new Set(
  'L LC Lu Ll Lt Lm Lo M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp C Cc Cf Cs Co Cn'.split(
    ' ',
  ),
);

/** Java's `\p{IsX}` binary properties that JavaScript spells differently. */
const BINARY_PROPERTIES: Record<string, string> = {
  Alphabetic: 'Alphabetic',
  Ideographic: 'Ideographic',
  Letter: 'L',
  Lowercase: 'Lowercase',
  Uppercase: 'Uppercase',
  Titlecase: 'Lt',
  Punctuation: 'P',
  Control: 'Cc',
  White_Space: 'White_Space',
  WhiteSpace: 'White_Space',
  Digit: 'Nd',
  Hex_Digit: 'Hex_Digit',
  HexDigit: 'Hex_Digit',
  Join_Control: 'Join_Control',
  Noncharacter_Code_Point: 'Noncharacter_Code_Point',
  Assigned: 'Assigned',
  Emoji: 'Emoji',
};

/** Only a leading group of flags applies to the whole pattern; `i` and `s` have JavaScript flags. */
function leadingFlags(pattern: string): { body: string; flags: string } {
  const match = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (!match) return { body: pattern, flags: '' };
  const flags = match[1]!;
  // Java's (?i) folds ASCII only; JavaScript's i with u folds Unicode: the same on ASCII text.
  if (/[^is]/.test(flags)) throw new Unsupported(`inline flags (?${flags}) have no JavaScript equivalent`);
  return { body: pattern.slice(match[0].length), flags };
}

class Translator {
  private index = 0;
  private out = '';

  constructor(
    private readonly pattern: string,
    private readonly dotAll: boolean,
  ) {}

  run(): string {
    while (this.index < this.pattern.length) this.atom();
    return this.out;
  }

  private atom(): void {
    const char = this.pattern[this.index]!;
    switch (char) {
      case '\\':
        this.out += this.escape(false);
        return;
      case '[':
        this.out += this.characterClass();
        return;
      case '.':
        this.index++;
        this.out += this.dotAll ? '[^]' : JAVA_DOT;
        return;
      case '(':
        this.group();
        return;
      case '*':
      case '+':
      case '?':
        this.index++;
        this.out += char;
        this.quantifierSuffix();
        return;
      case '{': {
        const bound = /^\{\d+(?:,\d*)?\}/.exec(this.pattern.slice(this.index));
        if (bound) {
          this.index += bound[0].length;
          this.out += bound[0];
          this.quantifierSuffix();
        } else {
          this.index++;
          this.out += '\\{';
        }
        return;
      }
      case '}':
      case ']':
        this.index++;
        this.out += `\\${char}`;
        return;
      default:
        this.index++;
        this.out += char;
    }
  }

  private quantifierSuffix(): void {
    const next = this.pattern[this.index];
    if (next === '+') throw new Unsupported('possessive quantifiers have no JavaScript equivalent');
    if (next === '?') {
      this.index++;
      this.out += '?';
    }
  }

  private group(): void {
    const rest = this.pattern.slice(this.index);
    const opener = /^\((?:\?(?::|=|!|<=|<!|<[a-zA-Z][a-zA-Z0-9]*>))?/.exec(rest)![0];
    if (opener === '(' && rest.startsWith('(?')) {
      throw new Unsupported(
        rest.startsWith('(?>')
          ? 'atomic groups have no JavaScript equivalent'
          : `the group ${rest.slice(0, 6)}… (inline flags) has no JavaScript equivalent`,
      );
    }
    this.index += opener.length;
    this.out += opener;
  }

  /** A class `[…]`: Java's unions (`[a[b]]`) and intersections (`&&`) are refused. */
  private characterClass(): string {
    this.index++;
    let out = '[';
    if (this.pattern[this.index] === '^') {
      out += '^';
      this.index++;
    }
    // Java reads a `]` right after the opening bracket as a literal.
    if (this.pattern[this.index] === ']') {
      out += '\\]';
      this.index++;
    }
    let previousWasSet = false;
    for (;;) {
      const char = this.pattern[this.index];
      if (char === undefined) throw new Unsupported('unterminated character class');
      if (char === ']') {
        this.index++;
        return `${out}]`;
      }
      if (char === '[')
        throw new Unsupported('nested character classes (unions) have no JavaScript equivalent');
      if (char === '&' && this.pattern[this.index + 1] === '&') {
        throw new Unsupported('character class intersections have no JavaScript equivalent');
      }
      const setEscape = (at: number) => /^\\[dDwWsShHvVpP]/.test(this.pattern.slice(at));
      if (char === '\\') {
        previousWasSet = setEscape(this.index);
        out += this.escape(true);
        continue;
      }
      this.index++;
      // Java reads a `-` beside a class escape (`[\w-_]`) as a literal; JavaScript refuses it under u.
      out += char === '-' && (previousWasSet || setEscape(this.index)) ? '\\-' : char;
      previousWasSet = false;
    }
  }

  /** The escape at the cursor, inside a class or not. */
  private escape(inClass: boolean): string {
    const next = this.pattern[this.index + 1];
    if (next === undefined) throw new Unsupported('a trailing backslash');
    this.index += 2;
    const set = (points: CodePoints) => (inClass ? members(points) : `[${members(points)}]`);
    switch (next) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 't':
      case 'n':
      case 'r':
      case 'f':
        return `\\${next}`;
      case 's':
        return set(JAVA_SPACE);
      case 'h':
        return set(HORIZONTAL_SPACE);
      case 'v':
        return set(VERTICAL_SPACE);
      case 'S':
        return set(complement(JAVA_SPACE));
      case 'H':
        return set(complement(HORIZONTAL_SPACE));
      case 'V':
        return set(complement(VERTICAL_SPACE));
      case 'a':
        return '\\x07';
      case 'e':
        return '\\x1B';
      case 'x':
        return this.hexEscape();
      case 'u': {
        const hex = /^[0-9a-fA-F]{4}/.exec(this.pattern.slice(this.index));
        if (!hex) throw new Unsupported('a malformed \\u escape');
        this.index += 4;
        return `\\u${hex[0]}`;
      }
      case '0': {
        const octal = /^(?:[0-3][0-7]{2}|[0-7]{1,2})/.exec(this.pattern.slice(this.index));
        if (!octal) throw new Unsupported('a malformed octal escape');
        this.index += octal[0].length;
        return `\\u{${Number.parseInt(octal[0], 8).toString(16)}}`;
      }
      case 'c': {
        const letter = this.pattern[this.index];
        if (!letter || !/[A-Za-z]/.test(letter)) throw new Unsupported('a \\c escape of a non-letter');
        this.index++;
        return `\\c${letter}`;
      }
      case 'p':
      case 'P':
        return this.property(next === 'P', inClass);
      case 'Q': {
        const end = this.pattern.indexOf('\\E', this.index);
        const quoted = this.pattern.slice(this.index, end === -1 ? undefined : end);
        this.index = end === -1 ? this.pattern.length : end + 2;
        return [...quoted].map((c) => literal(c, inClass)).join('');
      }
      case 'A':
      case 'z':
        if (inClass) throw new Unsupported(`\\${next} inside a character class`);
        return next === 'A' ? '^' : '$';
      case 'Z':
        if (inClass) throw new Unsupported('\\Z inside a character class');
        return '(?=(?:\\r\\n|[\\n\\r\\u0085\\u2028\\u2029])?$)';
      default:
        if (/[1-9]/.test(next) && !inClass) return `\\${next}`;
        if (/[a-zA-Z0-9]/.test(next))
          throw new Unsupported(`the escape \\${next} has no JavaScript equivalent`);
        return literal(next, inClass);
    }
  }

  private hexEscape(): string {
    const rest = this.pattern.slice(this.index);
    const braced = /^\{([0-9a-fA-F]+)\}/.exec(rest);
    if (braced) {
      this.index += braced[0].length;
      return `\\u{${braced[1]}}`;
    }
    const pair = /^[0-9a-fA-F]{2}/.exec(rest);
    if (!pair) throw new Unsupported('a malformed \\x escape');
    this.index += 2;
    return `\\x${pair[0]}`;
  }

  private property(negated: boolean, inClass: boolean): string {
    const rest = this.pattern.slice(this.index);
    const braced = /^\{([^}]*)\}/.exec(rest);
    const name = braced ? braced[1]! : rest[0];
    if (!name) throw new Unsupported('a malformed \\p escape');
    this.index += braced ? braced[0].length : 1;
    const letter = negated ? 'P' : 'p';
    const posix = POSIX_CLASSES[name];
    if (posix !== undefined) {
      const points = negated ? complement(posix) : posix;
      return inClass ? members(points) : `[${members(points)}]`;
    }
    const js = unicodeProperty(name);
    if (!js) throw new Unsupported(`the property \\p{${name}} has no JavaScript equivalent`);
    return `\\${letter}{${js}}`;
  }
}

/** Java's property name as JavaScript's, or undefined (blocks, java* methods, unknown names). */
function unicodeProperty(name: string): string | undefined {
  const unprefixed = name.replace(/^(?:Is|gc=|general_category=)/, '');
  if (GENERAL_CATEGORIES.has(unprefixed)) return unprefixed;
  if (name.startsWith('In') || name.startsWith('java') || name.startsWith('blk=')) return undefined;
  const binary = BINARY_PROPERTIES[unprefixed];
  if (binary) return binary;
  const script = /^(?:Is|sc=|script=)([A-Za-z_]+)$/.exec(name);
  // Validated when the whole pattern is compiled: an unknown script name fails there.
  return script ? `Script=${script[1]}` : undefined;
}

/** One character as a JavaScript literal under the `u` flag, where only syntax characters may be escaped. */
function literal(char: string, inClass: boolean): string {
  const special = inClass ? /[\\\]\-^]/ : /[\\^$.*+?()[\]{}|/]/;
  return special.test(char) ? `\\${char}` : char;
}
