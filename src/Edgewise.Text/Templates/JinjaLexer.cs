using System.Globalization;
using System.Text;

namespace Edgewise.Text.Templates;

internal enum TokenKind
{
    Text,
    VariableStart,
    VariableEnd,
    BlockStart,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    EndOfInput,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Line, int Column)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public override string ToString() => Kind switch
    {
        TokenKind.EndOfInput => "end of template",
        TokenKind.Text => "template text",
        TokenKind.String => $"string '{Value}'",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits template source into text and tag tokens, applying Jinja2's whitespace control exactly as transformers
/// configures it: <c>trim_blocks</c> (drop the newline after a block or comment tag), <c>lstrip_blocks</c> (drop
/// spaces and tabs between a line start and a block or comment tag), <c>-</c> markers (strip all whitespace on that
/// side), <c>+</c> (disable lstrip), and <c>keep_trailing_newline=False</c>.
/// </summary>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", "<=", ">=",
        "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|",
    ];

    private readonly string _source;
    private readonly bool _trimBlocks;
    private readonly bool _lstripBlocks;
    private readonly List<Token> _tokens = [];
    private readonly List<int> _lineStarts = [0];
    private int _pos;

    private JinjaLexer(string source, bool trimBlocks, bool lstripBlocks)
    {
        // Jinja2's default keep_trailing_newline=False drops one final newline.
        if (source.EndsWith('\n')) source = source[..^1];
        _source = source;
        _trimBlocks = trimBlocks;
        _lstripBlocks = lstripBlocks;
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '\n') _lineStarts.Add(i + 1);
        }
    }

    public static List<Token> Tokenize(string source, bool trimBlocks, bool lstripBlocks)
    {
        var lexer = new JinjaLexer(source, trimBlocks, lstripBlocks);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        var stripNextAll = false;
        var stripNextNewline = false;
        while (_pos <= _source.Length)
        {
            var tagStart = FindTagStart(_pos);
            var textStart = _pos;
            var textEnd = tagStart < 0 ? _source.Length : tagStart;
            if (stripNextAll)
            {
                while (textStart < textEnd && char.IsWhiteSpace(_source[textStart])) textStart++;
            }
            else if (stripNextNewline && textStart < textEnd)
            {
                if (_source[textStart] == '\n') textStart++;
                else if (_source[textStart] == '\r' && textStart + 1 < textEnd && _source[textStart + 1] == '\n') textStart += 2;
            }

            stripNextAll = false;
            stripNextNewline = false;

            char kind = tagStart < 0 ? '\0' : _source[tagStart + 1];
            char marker = tagStart >= 0 && tagStart + 2 < _source.Length ? _source[tagStart + 2] : '\0';
            if (tagStart >= 0)
            {
                if (marker == '-')
                {
                    while (textEnd > textStart && char.IsWhiteSpace(_source[textEnd - 1])) textEnd--;
                }
                else if (marker != '+' && _lstripBlocks && kind != '{')
                {
                    // Strip spaces/tabs back to the line start, only if nothing else is on that line before the tag.
                    var lineStart = textEnd;
                    while (lineStart > textStart && _source[lineStart - 1] is ' ' or '\t') lineStart--;
                    var atLineStart = lineStart > textStart ? _source[lineStart - 1] == '\n' : lineStart == 0 || _source[lineStart - 1] == '\n';
                    if (atLineStart) textEnd = lineStart;
                }
            }

            if (textEnd > textStart) Add(TokenKind.Text, _source[textStart..textEnd], textStart);
            if (tagStart < 0) break;

            var bodyStart = tagStart + 2 + (marker is '-' or '+' ? 1 : 0);
            if (kind == '#')
            {
                var close = _source.IndexOf("#}", bodyStart, StringComparison.Ordinal);
                if (close < 0) throw Error("unclosed comment: '{#' has no matching '#}'", tagStart);
                stripNextAll = close > bodyStart && _source[close - 1] == '-';
                stripNextNewline = !stripNextAll && _trimBlocks;
                _pos = close + 2;
                continue;
            }

            var isBlock = kind == '%';
            Add(isBlock ? TokenKind.BlockStart : TokenKind.VariableStart, isBlock ? "{%" : "{{", tagStart);
            var (endPos, stripAfter) = LexTagBody(bodyStart, isBlock ? '%' : '}', tagStart);
            stripNextAll = stripAfter;
            stripNextNewline = !stripAfter && isBlock && _trimBlocks;
            _pos = endPos;
        }

        Add(TokenKind.EndOfInput, "", _source.Length);
    }

    private int FindTagStart(int from)
    {
        var i = from;
        while (true)
        {
            i = _source.IndexOf('{', i);
            if (i < 0 || i + 1 >= _source.Length) return -1;
            var next = _source[i + 1];
            if (next is '{' or '%' or '#') return i;
            i++;
        }
    }

    /// <summary>Lexes expression tokens until the closing "}}" or "%}"; returns the position after it.</summary>
    private (int End, bool StripAfter) LexTagBody(int pos, char closeFirst, int tagStart)
    {
        var depth = 0;
        while (true)
        {
            while (pos < _source.Length && char.IsWhiteSpace(_source[pos])) pos++;
            if (pos >= _source.Length) throw Error($"unclosed tag: expected '{closeFirst}}}'", tagStart);

            var c = _source[pos];
            if (c == '-' && pos + 2 < _source.Length && _source[pos + 1] == closeFirst && _source[pos + 2] == '}' && depth == 0)
            {
                Add(closeFirst == '%' ? TokenKind.BlockEnd : TokenKind.VariableEnd, "", pos);
                return (pos + 3, true);
            }

            if (c == closeFirst && pos + 1 < _source.Length && _source[pos + 1] == '}' && (closeFirst == '%' || depth == 0))
            {
                Add(closeFirst == '%' ? TokenKind.BlockEnd : TokenKind.VariableEnd, "", pos);
                return (pos + 2, false);
            }

            if (char.IsLetter(c) || c == '_')
            {
                var start = pos;
                while (pos < _source.Length && (char.IsLetterOrDigit(_source[pos]) || _source[pos] == '_')) pos++;
                Add(TokenKind.Name, _source[start..pos], start);
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                pos = LexNumber(pos);
                continue;
            }

            if (c is '\'' or '"')
            {
                pos = LexString(pos);
                continue;
            }

            var op = MatchOperator(pos);
            if (op is null) throw Error($"unexpected character '{c}' in tag", pos);
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}") depth--;
            Add(TokenKind.Operator, op, pos);
            pos += op.Length;
        }
    }

    private string? MatchOperator(int pos)
    {
        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_source, pos, op, 0, op.Length) == 0) return op;
        }

        return null;
    }

    private int LexNumber(int pos)
    {
        var start = pos;
        while (pos < _source.Length && (char.IsAsciiDigit(_source[pos]) || _source[pos] == '_')) pos++;
        var isFloat = false;
        if (pos + 1 < _source.Length && _source[pos] == '.' && char.IsAsciiDigit(_source[pos + 1]))
        {
            isFloat = true;
            pos++;
            while (pos < _source.Length && (char.IsAsciiDigit(_source[pos]) || _source[pos] == '_')) pos++;
        }

        if (pos < _source.Length && _source[pos] is 'e' or 'E')
        {
            var save = pos;
            pos++;
            if (pos < _source.Length && _source[pos] is '+' or '-') pos++;
            if (pos < _source.Length && char.IsAsciiDigit(_source[pos]))
            {
                isFloat = true;
                while (pos < _source.Length && char.IsAsciiDigit(_source[pos])) pos++;
            }
            else
            {
                pos = save;
            }
        }

        Add(isFloat ? TokenKind.Float : TokenKind.Integer, _source[start..pos].Replace("_", "", StringComparison.Ordinal), start);
        return pos;
    }

    /// <summary>A quoted literal with Python escape sequences.</summary>
    private int LexString(int pos)
    {
        var quote = _source[pos];
        var start = pos;
        pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (pos >= _source.Length) throw Error("unterminated string literal", start);
            var c = _source[pos];
            if (c == quote)
            {
                pos++;
                break;
            }

            if (c != '\\' || pos + 1 >= _source.Length)
            {
                sb.Append(c);
                pos++;
                continue;
            }

            var e = _source[pos + 1];
            pos += 2;
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break;
                case 'x' when pos + 2 <= _source.Length:
                    sb.Append((char)int.Parse(_source.AsSpan(pos, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    pos += 2;
                    break;
                case 'u' when pos + 4 <= _source.Length:
                    sb.Append((char)int.Parse(_source.AsSpan(pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    pos += 4;
                    break;
                default:
                    // Python keeps unknown escapes verbatim.
                    sb.Append('\\').Append(e);
                    break;
            }
        }

        Add(TokenKind.String, sb.ToString(), start);
        return pos;
    }

    private void Add(TokenKind kind, string value, int offset)
    {
        var (line, column) = Position(offset);
        _tokens.Add(new Token(kind, value, line, column));
    }

    private TemplateException Error(string message, int offset)
    {
        var (line, column) = Position(offset);
        return new TemplateException(message, line, column);
    }

    private (int Line, int Column) Position(int offset)
    {
        var index = _lineStarts.BinarySearch(offset);
        if (index < 0) index = ~index - 1;
        return (index + 1, offset - _lineStarts[index] + 1);
    }
}
