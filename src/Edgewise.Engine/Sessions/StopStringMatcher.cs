using System.Text;

namespace Edgewise.Engine.Sessions;

/// <summary>
/// Finds stop strings in streamed text, however the text is split into deltas. Text is released only once no stop
/// string can start in it: the longest tail that is a proper prefix of some stop string is held back, so nothing
/// past a stop is ever released. (An occurrence starting in released text would have been either complete, and
/// found, or a prefix still held.)
/// </summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly StringBuilder _held = new();

    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        foreach (string s in stops)
        {
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("stop strings must not be empty", nameof(stops));
        }
        _stops = [.. stops];
    }

    /// <summary>The stop string found, once one has been.</summary>
    public string? Matched { get; private set; }

    /// <summary>Text held back because it could be the start of a stop string.</summary>
    public int HeldLength => _held.Length;

    /// <summary>Adds <paramref name="delta"/>; returns the text now safe to show (everything before a stop, once found).</summary>
    public string Push(string delta)
    {
        if (Matched is not null) return "";
        if (_stops.Length == 0) return delta;
        if (delta.Length == 0) return "";
        _held.Append(delta);
        string text = _held.ToString();

        int first = -1;
        foreach (string stop in _stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
                Matched = stop;
            }
        }
        if (first >= 0)
        {
            _held.Clear();
            return text[..first];
        }

        int hold = 0;
        foreach (string stop in _stops)
        {
            for (int k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }
        _held.Remove(0, text.Length - hold);
        return hold == 0 ? text : text[..^hold];
    }

    /// <summary>End of output without a stop: releases what was held back.</summary>
    public string Flush()
    {
        string text = _held.ToString();
        _held.Clear();
        return Matched is null ? text : "";
    }
}
