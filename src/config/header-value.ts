/**
 * Whether `text` can go in an HTTP header as it is: Latin-1 without control characters (a tab
 * aside). fetch refuses anything else at each request, which showed as the provider's connection
 * failing; a key pasted with a zero-width space is the common case.
 */
export const headerSafe = (text: string): boolean => /^[\t\x20-\x7e\x80-\xff]*$/.test(text);

export const NOT_HEADER_SAFE = "holds a character an HTTP header cannot carry (outside Latin-1, a line break or another control character): check it for a stray invisible character";
