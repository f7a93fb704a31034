using System.Text;

namespace Edgewise.Engine.Constraints;

/// <summary>What a grammar symbol is: a byte from a set, a reference to a rule, one special token (by id), or the end of an alternative.</summary>
public enum SymbolKind : byte
{
    Bytes,
    Rule,
    Token,
    End,
}

/// <summary>One symbol of an alternative. <see cref="Value"/> indexes the grammar's byte sets, rules or special-token pieces.</summary>
public readonly record struct GrammarSymbol(SymbolKind Kind, int Value);

/// <summary>
/// A context-free grammar over bytes and special tokens, independent of any vocabulary: rules of alternatives of
/// symbols, stored flat (each alternative ends with an <see cref="SymbolKind.End"/> symbol) so a matcher position is
/// one int. Built with <see cref="GrammarBuilder"/> or a compiler (<see cref="JsonSchemaGrammar"/>,
/// <see cref="GemmaToolCallGrammar"/>); bound to a tokenizer by <see cref="CompiledGrammar"/>.
/// Special tokens are terminals named by their exact vocabulary piece (e.g. <c>&lt;|"|&gt;</c>), matched as whole ids.
/// </summary>
public sealed class Grammar
{
    internal Grammar(GrammarSymbol[] symbols, int[][] alternatives, string[] ruleNames, ByteSet[] byteSets, string[] tokenPieces, int root)
    {
        Symbols = symbols;
        Alternatives = alternatives;
        RuleNames = ruleNames;
        ByteSets = byteSets;
        TokenPieces = tokenPieces;
        Root = root;
    }

    /// <summary>Every alternative's symbols, end to end.</summary>
    internal GrammarSymbol[] Symbols { get; }

    /// <summary>Per rule, the position in <see cref="Symbols"/> where each alternative starts.</summary>
    internal int[][] Alternatives { get; }

    internal ByteSet[] ByteSets { get; }

    public IReadOnlyList<string> RuleNames { get; }

    /// <summary>The special-token pieces the grammar uses as terminals.</summary>
    public IReadOnlyList<string> TokenPieces { get; }

    public int Root { get; }

    public int RuleCount => Alternatives.Length;

    /// <summary>GBNF-like text of every rule, for debugging and error messages.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (int rule = 0; rule < Alternatives.Length; rule++)
        {
            text.Append(RuleNames[rule]).Append(" ::=");
            for (int a = 0; a < Alternatives[rule].Length; a++)
            {
                if (a > 0)
                    text.Append(" |");
                int pos = Alternatives[rule][a];
                if (Symbols[pos].Kind == SymbolKind.End)
                    text.Append(" \"\"");
                for (; Symbols[pos].Kind != SymbolKind.End; pos++)
                {
                    var s = Symbols[pos];
                    text.Append(' ').Append(s.Kind switch
                    {
                        SymbolKind.Bytes => ByteSets[s.Value].ToString(),
                        SymbolKind.Rule => RuleNames[s.Value],
                        _ => "<" + TokenPieces[s.Value] + ">",
                    });
                }
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}
