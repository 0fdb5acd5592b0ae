using LiteVL.Model.Text;

namespace LiteVL.Model.Tests.Text;

/// <summary>
/// <see cref="BlipTokenizer.CleanCaption"/> against BLIP's <c>pre_caption</c>, with every expected value written from the
/// Python rule named beside it (Python 3 documentation of <c>re</c> and <c>str</c>), not from our code:
/// <c>str.lower()</c>; <c>re.sub(r"([.!\"()*#:;~])", ' ')</c>; <c>re.sub(r"\s{2,}", ' ')</c> where <c>\s</c> in a
/// <c>str</c> pattern matches the characters for which <c>str.isspace()</c> is true; <c>rstrip('\n')</c>;
/// <c>strip(' ')</c>; <c>split(' ')</c> and <c>max_words = 50</c>.
/// </summary>
public sealed class PreCaptionRulesTests
{
    [Theory]
    [InlineData("A Man.", "a man", "str.lower(); '.' -> ' '; strip(' ') removes the trailing space")]
    [InlineData("(a)*b#c:d;e~f!g\"h", "a b c d e f g h", "each of . ! \" ( ) * # : ; ~ -> ' '; strip(' ')")]
    [InlineData("a. b", "a b", "'.' -> ' ' gives two spaces; \\s{2,} -> one space")]
    [InlineData("a\tb", "a\tb", "\\s{2,} needs two whitespace characters: a lone \\t stays")]
    [InlineData("a\fb", "a\fb", "a lone \\f (U+000C, str.isspace() true) is a run of one: it stays")]
    [InlineData("a\vb", "a\vb", "a lone \\v (U+000B) stays")]
    [InlineData("a\u0085b", "a\u0085b", "a lone U+0085 (NEL, str.isspace() true) stays")]
    [InlineData("a\f\fb", "a b", "\\f\\f is a run of two: one space")]
    [InlineData("a \fb", "a b", "' ' then \\f is a run of two: one space")]
    [InlineData("a\u001c\u001db", "a b", "U+001C and U+001D are whitespace to str.isspace() (not to .NET): a run of two")]
    [InlineData("a\u001fb", "a\u001fb", "a lone U+001F stays")]
    [InlineData("a\u200bb", "a\u200bb", "U+200B (zero width space) is not str.isspace(): never collapsed")]
    [InlineData("a\u00a0\u00a0b", "a b", "two U+00A0 (no-break space) are a run of two")]
    [InlineData("a\u3000b", "a\u3000b", "a lone U+3000 (ideographic space) stays")]
    [InlineData("a\r\nb", "a b", "\\r\\n is a run of two")]
    [InlineData("caption\n", "caption", "rstrip('\\n') removes a trailing line feed")]
    [InlineData("caption\n\n", "caption", "\\n\\n -> ' ', then strip(' ')")]
    [InlineData("x\n\f", "x", "\\n\\f -> ' ', then strip(' ')")]
    [InlineData("caption\t", "caption\t", "strip(' ') strips only spaces: a trailing lone \\t stays")]
    [InlineData("\tcaption", "\tcaption", "strip(' ') strips only spaces: a leading lone \\t stays")]
    [InlineData(" caption \n", "caption", "' \\n' -> ' ', then strip(' ')")]
    [InlineData("\n", "", "rstrip('\\n')")]
    [InlineData("\f", "\f", "a lone \\f is neither collapsed nor stripped")]
    [InlineData("  ", "", "'  ' -> ' ', strip(' ')")]
    [InlineData("\u0130", "i\u0307", "str.lower() of U+0130 is the full mapping 'i' + U+0307")]
    [InlineData("ΟΔΟΣ", "οδος", "str.lower() applies Final_Sigma: a word-final Σ becomes ς (U+03C2)")]
    public void CleanCaption_EqualsPreCaption(string input, string expected, string rule)
    {
        string actual = BlipTokenizer.CleanCaption(input);
        Assert.True(expected == actual, $"{rule}: expected {Show(expected)}, got {Show(actual)}");
    }

    [Fact]
    public void CleanCaption_MoreThanMaxWords_KeepsTheFirst50SpaceSeparatedPieces()
    {
        // caption.split(' '); if len > max_words (50): ' '.join(words[:50]).
        string input = string.Join(' ', Enumerable.Range(0, 51).Select(i => $"w{i}"));
        Assert.Equal(string.Join(' ', Enumerable.Range(0, 50).Select(i => $"w{i}")), BlipTokenizer.CleanCaption(input));
        Assert.Equal("w0 w1", BlipTokenizer.CleanCaption(input, maxWords: 2));
    }

    [Fact]
    public void IsPythonWhitespace_IsExactlyStrIsSpace()
    {
        // The 29 code points for which Python 3's str.isspace() is true (all in the BMP); every other char is not.
        int[] expected =
        [
            0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
            0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
            0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
        ];
        var actual = Enumerable.Range(0, 0x10000).Where(c => BlipTokenizer.IsPythonWhitespace((char)c)).ToArray();
        Assert.Equal(expected, actual);
    }

    private static string Show(string s) => "\"" + string.Concat(s.Select(c => c < 0x20 || c > 0x7e ? $"\\u{(int)c:x4}" : c.ToString())) + "\"";
}
