namespace Edgewise.Text.Tokenization;

/// <summary>Which Gemma generation's control-token strings a synthetic vocabulary uses.</summary>
public enum GemmaFlavour
{
    /// <summary><c>&lt;|turn&gt;</c>/<c>&lt;turn|&gt;</c>, tool and channel tokens; ranked merges (GGUF model <c>gemma4</c>).</summary>
    Gemma4,

    /// <summary><c>&lt;start_of_turn&gt;</c>/<c>&lt;end_of_turn&gt;</c>; SentencePiece scores (GGUF model <c>llama</c>).</summary>
    Gemma3n,
}

/// <summary>Small, deterministic Gemma-shaped vocabularies for synthetic models and tests (no downloads).</summary>
public static class GemmaVocabularies
{
    public const int MinimumTinySize = 1024;

    // Real ids (spec §6 and data/README §3) of tokens the chat templates and tool-call format emit.
    private static readonly (int Id, string Piece, TokenType Type)[] s_common =
    [
        (0, "<pad>", TokenType.Control), (1, "<eos>", TokenType.Control), (2, "<bos>", TokenType.Control),
        (3, "<unk>", TokenType.Unknown), (4, "<mask>", TokenType.UserDefined), (107, "\n", TokenType.UserDefined),
        (108, "\n\n", TokenType.UserDefined), (2364, "user", TokenType.Normal), (4368, "model", TokenType.Normal),
        (9731, "system", TokenType.Normal), (45518, "thought", TokenType.Normal),
    ];

    // llama.cpp marks the tool-call and channel delimiters USER_DEFINED so they stay visible in decoded text.
    private static readonly (int Id, string Piece, TokenType Type)[] s_gemma4 =
    [
        (46, "<|tool>", TokenType.Control), (47, "<tool|>", TokenType.Control), (48, "<|tool_call>", TokenType.UserDefined),
        (49, "<tool_call|>", TokenType.UserDefined), (50, "<|tool_response>", TokenType.UserDefined),
        (51, "<tool_response|>", TokenType.UserDefined), (52, "<|\"|>", TokenType.UserDefined), (98, "<|think|>", TokenType.Control),
        (100, "<|channel>", TokenType.UserDefined), (101, "<channel|>", TokenType.UserDefined), (105, "<|turn>", TokenType.Control),
        (106, "<turn|>", TokenType.Control), (255999, "<|image>", TokenType.Control), (256000, "<|audio>", TokenType.Control),
        (258880, "<|image|>", TokenType.Control), (258881, "<|audio|>", TokenType.Control), (258882, "<image|>", TokenType.Control),
        (258883, "<audio|>", TokenType.Control), (258884, "<|video|>", TokenType.Control),
    ];

    private static readonly (int Id, string Piece, TokenType Type)[] s_gemma3n =
    [
        (105, "<start_of_turn>", TokenType.Control), (106, "<end_of_turn>", TokenType.Control),
        (255999, "<start_of_image>", TokenType.Control), (256000, "<start_of_audio>", TokenType.Control),
        (262144, "<end_of_image>", TokenType.Control), (262145, "<image_soft_token>", TokenType.Control),
        (262272, "<end_of_audio>", TokenType.Control), (262273, "<audio_soft_token>", TokenType.Control),
    ];

    private const int FirstBytePieceId = 238; // <0x00> sits at 238 in the real Gemma vocabularies

    private static readonly string s_words =
        "the of and to a in is it you that he was for on are as with his they I at be this have from or one had by word but not " +
        "what all were we when your can said there use an each which she do how their if will up other about out many then them " +
        "these so some her would make like him into time has look two more write go see number no way could people my than first " +
        "water been call who oil its now find long down day did get come made may part capital France Paris weather city Tokyo " +
        "hello world please thank answer question tool call function result name value true false null model user system thought";

    // Words that also start a line (no ▁ before them) in chat prompts. Their chains are added after every ▁-word so
    // their inner pairs (t+h in "thought") rank below the ▁-chains and never break a ▁-word apart.
    private static readonly string s_lineStartWords = "user model system thought What The Hello How Why Write";

    /// <summary>
    /// A vocabulary of exactly <paramref name="size"/> pieces: the control tokens of the flavour, the role words,
    /// the 256 byte pieces at ids 238..493 and ASCII characters plus merges for a few hundred English words.
    /// Every listed token keeps its real id when that id is below <paramref name="size"/>; tokens whose real id does
    /// not fit (the role words below 45519, the image/audio tokens above 255998) move to the top of the vocabulary,
    /// highest real id at <c>size - 1</c>, and are found by <see cref="GemmaTokenizer.PieceToId"/>.
    /// Unused ids are <c>&lt;unusedN&gt;</c> pieces.
    /// </summary>
    public static GemmaTokenizer CreateTiny(int size, GemmaFlavour flavour)
    {
        if (size < MinimumTinySize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"a tiny Gemma vocabulary needs at least {MinimumTinySize} pieces");

        var pieces = new string?[size];
        var types = new TokenType[size];
        var fixedTokens = s_common.Concat(flavour == GemmaFlavour.Gemma4 ? s_gemma4 : s_gemma3n).OrderByDescending(t => t.Id).ToList();
        int top = size - 1;
        foreach ((int id, string piece, TokenType type) in fixedTokens)
        {
            int at = id < size && pieces[id] is null ? id : top--;
            pieces[at] = piece;
            types[at] = type;
        }
        for (int b = 0; b < 256; b++)
        {
            pieces[FirstBytePieceId + b] = $"<0x{b:X2}>";
            types[FirstBytePieceId + b] = TokenType.Byte;
        }

        int next = FirstBytePieceId + 256;
        int Add(string piece)
        {
            while (next < size && pieces[next] is not null)
                next++;
            if (next >= size)
                return -1;
            pieces[next] = piece;
            types[next] = TokenType.Normal;
            return next++;
        }

        var known = new HashSet<string>(pieces.Where(p => p is not null)!, StringComparer.Ordinal);
        Add("\u2581");
        known.Add("\u2581");
        for (char c = '!'; c <= '~'; c++)
        {
            if (known.Add(c.ToString()))
                Add(c.ToString());
        }

        // Words become left-to-right merge chains: "▁t" + "h" -> "▁th", "▁th" + "e" -> "▁the".
        var merges = new List<(string, string)>();
        IEnumerable<string> forms = s_words.Split(' ').Select(w => "\u2581" + w).Concat(s_lineStartWords.Split(' '));
        foreach (string form in forms)
        {
            for (int end = 2; end <= form.Length; end++)
            {
                string left = form[..(end - 1)], right = form[(end - 1)..end], piece = form[..end];
                if (known.Contains(piece))
                {
                    AddMergeIfNew(merges, left, right, known);
                    continue;
                }
                if (Add(piece) < 0)
                    goto Full; // vocabulary full: the remaining words stay split into characters
                known.Add(piece);
                merges.Add((left, right));
            }
        }
    Full:
        for (int id = 0; id < size; id++)
        {
            if (pieces[id] is null)
            {
                pieces[id] = $"<unused{id}>";
                types[id] = TokenType.Unused;
            }
        }

        string[] final = pieces!;
        if (flavour == GemmaFlavour.Gemma4)
            return GemmaTokenizer.FromVocabulary(final, [], types, merges, source: $"tiny Gemma 4 vocabulary ({size})");

        // Score mode: a piece made by merge r scores -r, so merge-by-score replays the same merge order.
        var scores = new float[size];
        Array.Fill(scores, -(merges.Count + 1f));
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < size; id++)
            index.TryAdd(final[id], id);
        for (int rank = merges.Count - 1; rank >= 0; rank--)
            scores[index[merges[rank].Item1 + merges[rank].Item2]] = -rank;
        return GemmaTokenizer.FromVocabulary(final, scores, types, merges: null, source: $"tiny Gemma 3n vocabulary ({size})");
    }

    private static void AddMergeIfNew(List<(string, string)> merges, string left, string right, HashSet<string> known)
    {
        // A piece that already exists (e.g. a role word) still needs a merge to be reachable from its characters.
        if (known.Contains(left) && known.Contains(right) && !merges.Contains((left, right)))
            merges.Add((left, right));
    }
}
