using System.Globalization;

namespace Edgewise.Text.Templates;

/// <summary>
/// Recursive-descent parser from tokens to statement/expression nodes, with Jinja2's operator precedence:
/// conditional &lt; or &lt; and &lt; not &lt; comparison &lt; +,- &lt; ~ &lt; *,/,//,% &lt; ** &lt; unary &lt; postfix/filters/tests.
/// Any tag or construct outside the supported subset is rejected with its line and column.
/// </summary>
internal sealed class JinjaParser
{
    private readonly List<Token> _tokens;
    private int _index;

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static List<Stmt> Parse(List<Token> tokens)
    {
        var parser = new JinjaParser(tokens);
        var body = parser.ParseBody(out var terminator);
        if (terminator is not null) throw Error($"unexpected '{{% {terminator} %}}' with no open block", parser.Previous);
        return body;
    }

    private Token Current => _tokens[_index];

    private Token Previous => _tokens[Math.Max(0, _index - 1)];

    private Token Advance() => _tokens[_index++];

    private static TemplateException Error(string message, Token at) => new(message, at.Line, at.Column);

    private bool IsOp(string op) => Current.Is(TokenKind.Operator, op);

    private bool IsName(string name) => Current.Is(TokenKind.Name, name);

    private Token Expect(TokenKind kind, string? value, string what)
    {
        var token = Current;
        if (token.Kind != kind || (value is not null && token.Value != value))
        {
            throw Error($"expected {what}, found {token}", token);
        }

        _index++;
        return token;
    }

    private string ExpectName(string what) => Expect(TokenKind.Name, null, what).Value;

    /// <summary>Parses statements until end of input or a block tag whose keyword is in <paramref name="stops"/>.</summary>
    private List<Stmt> ParseBody(out string? terminator, params string[] stops)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.EndOfInput:
                    if (stops.Length > 0) throw Error($"unexpected end of template: expected {string.Join(" or ", stops.Select(s => $"'{{% {s} %}}'"))}", token);
                    terminator = null;
                    return body;
                case TokenKind.Text:
                    _index++;
                    body.Add(new TextStmt(token.Value, token.Line, token.Column));
                    break;
                case TokenKind.VariableStart:
                    _index++;
                    var expr = ParseExpression();
                    Expect(TokenKind.VariableEnd, null, "'}}'");
                    body.Add(new PrintStmt(expr, token.Line, token.Column));
                    break;
                case TokenKind.BlockStart:
                    var keyword = _tokens[_index + 1];
                    if (keyword.Kind == TokenKind.Name && Array.IndexOf(stops, keyword.Value) >= 0)
                    {
                        _index += 2;
                        terminator = keyword.Value;
                        return body;
                    }

                    _index++;
                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error($"unexpected {token}", token);
            }
        }
    }

    private Stmt ParseStatement()
    {
        var keyword = Current;
        if (keyword.Kind != TokenKind.Name) throw Error($"expected a statement keyword, found {keyword}", keyword);
        _index++;
        switch (keyword.Value)
        {
            case "if": return ParseIf(keyword);
            case "for": return ParseFor(keyword);
            case "set": return ParseSet(keyword);
            case "macro": return ParseMacro(keyword);
            case "break":
            case "continue":
                Expect(TokenKind.BlockEnd, null, "'%}'");
                return new LoopControlStmt(keyword.Value == "break", keyword.Line, keyword.Column);
            default:
                throw Error($"unsupported tag '{{% {keyword.Value} %}}' (supported: if, for, set, macro, break, continue)", keyword);
        }
    }

    private IfStmt ParseIf(Token start)
    {
        var branches = new List<(Expr, List<Stmt>)>();
        var condition = ParseExpression();
        Expect(TokenKind.BlockEnd, null, "'%}'");
        while (true)
        {
            var body = ParseBody(out var terminator, "elif", "else", "endif");
            branches.Add((condition, body));
            if (terminator == "elif")
            {
                condition = ParseExpression();
                Expect(TokenKind.BlockEnd, null, "'%}'");
                continue;
            }

            List<Stmt>? elseBody = null;
            if (terminator == "else")
            {
                Expect(TokenKind.BlockEnd, null, "'%}'");
                elseBody = ParseBody(out _, "endif");
            }

            Expect(TokenKind.BlockEnd, null, "'%}'");
            return new IfStmt(branches, elseBody, start.Line, start.Column);
        }
    }

    private ForStmt ParseFor(Token start)
    {
        var targets = new List<string> { ExpectName("a loop variable name") };
        while (IsOp(","))
        {
            _index++;
            targets.Add(ExpectName("a loop variable name"));
        }

        Expect(TokenKind.Name, "in", "'in'");
        var iterable = ParseExpression(allowConditional: false);
        Expr? filter = null;
        if (IsName("if"))
        {
            _index++;
            filter = ParseExpression(allowConditional: false);
        }

        if (IsName("recursive")) throw Error("recursive for loops are not supported", Current);
        Expect(TokenKind.BlockEnd, null, "'%}'");
        var body = ParseBody(out var terminator, "else", "endfor");
        List<Stmt>? elseBody = null;
        if (terminator == "else")
        {
            Expect(TokenKind.BlockEnd, null, "'%}'");
            elseBody = ParseBody(out _, "endfor");
        }

        Expect(TokenKind.BlockEnd, null, "'%}'");
        return new ForStmt(targets, iterable, filter, body, elseBody, start.Line, start.Column);
    }

    private Stmt ParseSet(Token start)
    {
        var name = ExpectName("a variable name after 'set'");
        string? attribute = null;
        if (IsOp("."))
        {
            _index++;
            attribute = ExpectName("an attribute name");
        }

        if (IsOp(","))
        {
            throw Error("tuple assignment in '{% set %}' is not supported", Current);
        }

        if (Current.Kind == TokenKind.BlockEnd)
        {
            if (attribute is not null) throw Error("block set cannot assign to an attribute", start);
            _index++;
            var body = ParseBody(out _, "endset");
            Expect(TokenKind.BlockEnd, null, "'%}'");
            return new SetBlockStmt(name, body, start.Line, start.Column);
        }

        if (IsOp("|")) throw Error("filtered block set ('{% set x | filter %}') is not supported", Current);
        Expect(TokenKind.Operator, "=", "'='");
        var value = ParseTupleOrExpression();
        Expect(TokenKind.BlockEnd, null, "'%}'");
        return new SetStmt(name, attribute, value, start.Line, start.Column);
    }

    private MacroStmt ParseMacro(Token start)
    {
        var name = ExpectName("a macro name");
        Expect(TokenKind.Operator, "(", "'('");
        var parameters = new List<(string, Expr?)>();
        while (!IsOp(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",", "',' or ')'");
            if (IsOp(")")) break;
            var paramName = ExpectName("a parameter name");
            Expr? defaultValue = null;
            if (IsOp("="))
            {
                _index++;
                defaultValue = ParseExpression();
            }

            parameters.Add((paramName, defaultValue));
        }

        _index++;
        Expect(TokenKind.BlockEnd, null, "'%}'");
        var body = ParseBody(out _, "endmacro");
        if (Current.Kind == TokenKind.Name) _index++; // {% endmacro name %}
        Expect(TokenKind.BlockEnd, null, "'%}'");
        return new MacroStmt(name, parameters, body, start.Line, start.Column);
    }

    /// <summary>An expression, or an unparenthesised tuple (<c>set x = a, b</c>).</summary>
    private Expr ParseTupleOrExpression()
    {
        var first = ParseExpression();
        if (!IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (IsOp(","))
        {
            _index++;
            items.Add(ParseExpression());
        }

        return new ListExpr(items, first.Line, first.Column);
    }

    private Expr ParseExpression(bool allowConditional = true)
    {
        var expr = ParseOr();
        if (!allowConditional) return expr;
        while (IsName("if"))
        {
            var token = Advance();
            var condition = ParseOr();
            Expr? otherwise = null;
            if (IsName("else"))
            {
                _index++;
                otherwise = ParseExpression();
            }

            expr = new ConditionalExpr(condition, expr, otherwise, token.Line, token.Column);
        }

        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var token = Advance();
            left = new LogicalExpr(left, ParseAnd(), isAnd: false, token.Line, token.Column);
        }

        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var token = Advance();
            left = new LogicalExpr(left, ParseNot(), isAnd: true, token.Line, token.Column);
        }

        return left;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            var token = Advance();
            return new NotExpr(ParseNot(), token.Line, token.Column);
        }

        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var first = ParseAdditive();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            var token = Current;
            string op;
            if (token.Kind == TokenKind.Operator && token.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                op = token.Value;
                _index++;
            }
            else if (IsName("in"))
            {
                op = "in";
                _index++;
            }
            else if (IsName("not") && _tokens[_index + 1].Is(TokenKind.Name, "in"))
            {
                op = "not in";
                _index += 2;
            }
            else
            {
                break;
            }

            rest.Add((op, ParseAdditive()));
        }

        return rest.Count == 0 ? first : new CompareExpr(first, rest, first.Line, first.Column);
    }

    private Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (IsOp("+") || IsOp("-"))
        {
            var token = Advance();
            left = new BinaryExpr(token.Value, left, ParseConcat(), token.Line, token.Column);
        }

        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMultiplicative();
        while (IsOp("~"))
        {
            var token = Advance();
            left = new BinaryExpr("~", left, ParseMultiplicative(), token.Line, token.Column);
        }

        return left;
    }

    private Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))
        {
            var token = Advance();
            left = new BinaryExpr(token.Value, left, ParsePower(), token.Line, token.Column);
        }

        return left;
    }

    private Expr ParsePower()
    {
        var left = ParseUnary();
        while (IsOp("**"))
        {
            var token = Advance();
            left = new BinaryExpr("**", left, ParseUnary(), token.Line, token.Column);
        }

        return left;
    }

    private Expr ParseUnary(bool withFilters = true)
    {
        Expr expr;
        if (IsOp("-") || IsOp("+"))
        {
            var token = Advance();
            expr = new NegateExpr(ParseUnary(withFilters: false), token.Value == "-", token.Line, token.Column);
        }
        else
        {
            expr = ParsePostfix(ParsePrimary());
        }

        return withFilters ? ParseFiltersAndTests(expr) : expr;
    }

    private Expr ParsePrimary()
    {
        var token = Advance();
        switch (token.Kind)
        {
            case TokenKind.String:
                var text = token.Value;
                while (Current.Kind == TokenKind.String) text += Advance().Value; // implicit concatenation
                return new LiteralExpr(text, token.Line, token.Column);
            case TokenKind.Integer:
                return new LiteralExpr(long.Parse(token.Value, CultureInfo.InvariantCulture), token.Line, token.Column);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Line, token.Column);
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line, token.Column),
                    "false" or "False" => new LiteralExpr(false, token.Line, token.Column),
                    "none" or "None" => new LiteralExpr(null, token.Line, token.Column),
                    _ => new NameExpr(token.Value, token.Line, token.Column),
                };
            case TokenKind.Operator when token.Value == "(":
                if (IsOp(")"))
                {
                    _index++;
                    return new ListExpr([], token.Line, token.Column);
                }

                var inner = ParseTupleOrExpression();
                Expect(TokenKind.Operator, ")", "')'");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                var items = new List<Expr>();
                while (!IsOp("]"))
                {
                    if (items.Count > 0) Expect(TokenKind.Operator, ",", "',' or ']'");
                    if (IsOp("]")) break;
                    items.Add(ParseExpression());
                }

                _index++;
                return new ListExpr(items, token.Line, token.Column);
            case TokenKind.Operator when token.Value == "{":
                var entries = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    if (entries.Count > 0) Expect(TokenKind.Operator, ",", "',' or '}'");
                    if (IsOp("}")) break;
                    var key = ParseExpression();
                    Expect(TokenKind.Operator, ":", "':'");
                    entries.Add((key, ParseExpression()));
                }

                _index++;
                return new DictExpr(entries, token.Line, token.Column);
            default:
                throw Error($"unexpected {token} in expression", token);
        }
    }

    private Expr ParsePostfix(Expr expr)
    {
        while (true)
        {
            var token = Current;
            if (IsOp("."))
            {
                _index++;
                var name = Current.Kind == TokenKind.Integer ? Advance().Value : ExpectName("an attribute name after '.'");
                expr = new AttributeExpr(expr, name, token.Line, token.Column);
            }
            else if (IsOp("["))
            {
                _index++;
                expr = ParseSubscript(expr, token);
            }
            else if (IsOp("("))
            {
                _index++;
                var (positional, named) = ParseCallArguments();
                expr = new CallExpr(expr, positional, named, token.Line, token.Column);
            }
            else
            {
                return expr;
            }
        }
    }

    private Expr ParseSubscript(Expr target, Token open)
    {
        Expr? start = null;
        if (!IsOp(":")) start = ParseExpression();
        if (!IsOp(":"))
        {
            Expect(TokenKind.Operator, "]", "']'");
            return new ItemExpr(target, start!, open.Line, open.Column);
        }

        _index++;
        Expr? stop = null;
        Expr? step = null;
        if (!IsOp("]") && !IsOp(":")) stop = ParseExpression();
        if (IsOp(":"))
        {
            _index++;
            if (!IsOp("]")) step = ParseExpression();
        }

        Expect(TokenKind.Operator, "]", "']'");
        return new SliceExpr(target, start, stop, step, open.Line, open.Column);
    }

    private (List<Expr>, List<(string, Expr)>) ParseCallArguments()
    {
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!IsOp(")"))
        {
            if (positional.Count + named.Count > 0) Expect(TokenKind.Operator, ",", "',' or ')'");
            if (IsOp(")")) break;
            if (IsOp("*") || IsOp("**")) throw Error("*args / **kwargs in calls are not supported", Current);
            if (Current.Kind == TokenKind.Name && _tokens[_index + 1].Is(TokenKind.Operator, "="))
            {
                var name = Advance().Value;
                _index++;
                named.Add((name, ParseExpression()));
            }
            else
            {
                if (named.Count > 0) throw Error("positional argument after keyword argument", Current);
                positional.Add(ParseExpression());
            }
        }

        _index++;
        return (positional, named);
    }

    private Expr ParseFiltersAndTests(Expr expr)
    {
        while (true)
        {
            var token = Current;
            if (IsOp("|"))
            {
                _index++;
                var name = ExpectName("a filter name after '|'");
                var positional = new List<Expr>();
                var named = new List<(string, Expr)>();
                if (IsOp("("))
                {
                    _index++;
                    (positional, named) = ParseCallArguments();
                }

                expr = new FilterExpr(expr, name, positional, named, token.Line, token.Column);
            }
            else if (IsName("is"))
            {
                _index++;
                var negated = false;
                if (IsName("not"))
                {
                    _index++;
                    negated = true;
                }

                var name = Current.Kind == TokenKind.Name ? Advance().Value
                    : Current.Kind == TokenKind.Operator && Current.Value is "==" or "!=" or "<" or ">" or "<=" or ">=" ? Advance().Value
                    : throw Error($"expected a test name after 'is', found {Current}", Current);
                var args = new List<Expr>();
                if (IsOp("("))
                {
                    _index++;
                    var (positional, named) = ParseCallArguments();
                    if (named.Count > 0) throw Error("keyword arguments to tests are not supported", token);
                    args = positional;
                }
                else if (Current.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || (Current.Kind == TokenKind.Name && Current.Value is not ("and" or "or" or "else" or "if" or "not" or "in" or "is")))
                {
                    // `x is divisibleby 3`, `x is sameas none`: one bare argument.
                    args.Add(ParsePostfix(ParsePrimary()));
                }

                expr = new TestExpr(expr, name, args, negated, token.Line, token.Column);
            }
            else
            {
                return expr;
            }
        }
    }
}
