namespace Edgewise.Engine.Constraints;

/// <summary>An immutable set of byte values (256 bits): the terminal symbol of a byte-level grammar.</summary>
public readonly record struct ByteSet(ulong W0, ulong W1, ulong W2, ulong W3)
{
    public static ByteSet Empty => default;

    public static ByteSet Of(byte b) => Range(b, b);

    /// <summary>Bytes from <paramref name="first"/> to <paramref name="last"/> inclusive.</summary>
    public static ByteSet Range(byte first, byte last)
    {
        ulong w0 = 0, w1 = 0, w2 = 0, w3 = 0;
        for (int b = first; b <= last; b++)
        {
            switch (b >> 6)
            {
                case 0: w0 |= 1UL << (b & 63); break;
                case 1: w1 |= 1UL << (b & 63); break;
                case 2: w2 |= 1UL << (b & 63); break;
                default: w3 |= 1UL << (b & 63); break;
            }
        }
        return new ByteSet(w0, w1, w2, w3);
    }

    /// <summary>The listed ASCII characters.</summary>
    public static ByteSet OfChars(string asciiChars)
    {
        var set = Empty;
        foreach (char c in asciiChars)
        {
            if (c > 0x7F)
                throw new ArgumentException($"expected ASCII characters, found U+{(int)c:X4}", nameof(asciiChars));
            set |= Of((byte)c);
        }
        return set;
    }

    public bool Contains(byte b) => ((b >> 6) switch { 0 => W0, 1 => W1, 2 => W2, _ => W3 } & (1UL << (b & 63))) != 0;

    public bool IsEmpty => (W0 | W1 | W2 | W3) == 0;

    public static ByteSet operator |(ByteSet a, ByteSet b) => new(a.W0 | b.W0, a.W1 | b.W1, a.W2 | b.W2, a.W3 | b.W3);

    /// <summary>Set difference: bytes in <paramref name="a"/> but not in <paramref name="b"/>.</summary>
    public static ByteSet operator -(ByteSet a, ByteSet b) => new(a.W0 & ~b.W0, a.W1 & ~b.W1, a.W2 & ~b.W2, a.W3 & ~b.W3);

    public ByteSet BitwiseOr(ByteSet other) => this | other;

    public ByteSet Subtract(ByteSet other) => this - other;

    /// <summary>GBNF-style rendering, e.g. <c>[0-9a-f]</c>.</summary>
    public override string ToString()
    {
        var text = new System.Text.StringBuilder("[");
        int b = 0;
        while (b < 256)
        {
            if (!Contains((byte)b)) { b++; continue; }
            int end = b;
            while (end + 1 < 256 && Contains((byte)(end + 1)))
                end++;
            text.Append(Show(b));
            if (end > b)
                text.Append('-').Append(Show(end));
            b = end + 1;
        }
        return text.Append(']').ToString();

        static string Show(int b) => b is > 0x20 and < 0x7F && b != '-' && b != ']' && b != '\\' ? ((char)b).ToString() : $"\\x{b:X2}";
    }
}
