using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Jumpgate.Core.Protocol;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.Protocol;

/// <summary>
/// A seeded, bounded mutation run over the hello parser, the first code a stranger's bytes reach:
/// whatever arrives, the only way to fail is a <see cref="ProtocolException"/>.
/// </summary>
public sealed class HelloMutationTests(ITestOutputHelper output)
{
    private const int Seed = 20251123;
    private const int Cases = 100_000;

    /// <summary>Stops early on a slow machine rather than stretch the unit-test run.</summary>
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(8);

    /// <summary>Fragments that tend to reach the odd corners of a JSON parser.</summary>
    private static readonly byte[][] Interesting =
    [
        .. new[]
        {
            "{", "}", "[", "]", "\"", "\\", "\\u", "\\uD800", "\\u0000", ":", ",", "null", "true", "false", "-", "-0", "0.5",
            "1e999", "-1e999", "99999999999999999999", "2147483648", "NaN", "\"type\":null", "\"token\":null", "\"hosts\":null",
            "\"hosts\":[null]", "\"hosts\":[{\"name\":\"n\",\"services\":null}]", "\"hosts\":[{\"name\":\"n\",\"services\":[null]}]",
            "\"hosts\":[{\"name\":\"n\",\"services\":[{\"name\":\"s\",\"port\":1e3}]}]", "\"port\":\"22\"", "\"http\":\"true\"",
            "\"$id\":\"1\"", "\"$ref\":\"1\"", "\"$type\":\"x\"", "/*", "//", "\uFEFF", "\u2028",
            new string('[', 200), new string('{', 100), string.Concat(Enumerable.Repeat("{\"a\":", 100)),
        }.Select(Encoding.UTF8.GetBytes),
        [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x00], [0x7F],
    ];

    [Fact]
    public async Task MutatedHelloFramesAreRefusedOnlyWithProtocolException()
    {
        // Fixed tokens, so that the same seed mutates the same bytes on every run.
        var seeds = new[]
            {
                FrameTests.AgentHello() with { Token = "jga_0123456789ab_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-_" },
                FrameTests.ConnectHello() with { Token = "jgu_ba9876543210_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG" },
                FrameTests.TrunkHello() with { Token = "jga_00112233aabb_ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj" },
            }
            .Select(hello => Frame.Encode(hello, ProtocolJson.Default.Hello))
            .ToArray();

        // Run off the test thread with a deadline, so a parser that loops forever fails the test instead of hanging the run.
        var summary = await Task.Run(() => Run(seeds)).WaitAsync(Signals.Timeout(60));

        output.WriteLine($"hello mutation run (seed {Seed}): {summary.Run} cases in {summary.Elapsed.TotalSeconds:0.00} s; " +
            $"{summary.Refused} refused with ProtocolException, {summary.Accepted} decoded, " +
            $"{summary.AcceptedWithNulls} of those decoded with a null where the type says there is none; {summary.Failures.Count} other exceptions");
        foreach (var failure in summary.Failures.Take(10))
        {
            output.WriteLine(failure);
        }
        Assert.Empty(summary.Failures);
        Assert.True(summary.Run >= 10_000, $"only {summary.Run} cases ran within {Budget}");
    }

    private sealed record Summary(int Run, int Refused, int Accepted, int AcceptedWithNulls, TimeSpan Elapsed, List<string> Failures);

    private static Summary Run(byte[][] seeds)
    {
        var random = new Random(Seed);
        var failures = new List<string>();
        int run = 0, refused = 0, accepted = 0, acceptedWithNulls = 0;
        var stopwatch = Stopwatch.StartNew();
        for (; run < Cases && stopwatch.Elapsed < Budget; run++)
        {
            var input = Mutate(seeds[random.Next(seeds.Length)], random);

            // The payload alone, as if the length prefix were right.
            if (input.Length >= 2)
            {
                Check(input, () => Frame.Decode(input.AsSpan(2), ProtocolJson.Default.Hello));
            }

            // The whole buffer, as a pipe delivers it in pieces, frame after frame.
            var sequence = Segments.Split(input, random, maxPiece: random.Next(1, 64));
            Check(input, () =>
            {
                Hello? last = null;
                var buffer = sequence;
                while (Frame.TryRead(ref buffer, out var payload))
                {
                    last = Frame.Decode(payload, ProtocolJson.Default.Hello);
                }
                return last;
            });
        }
        return new Summary(run, refused, accepted, acceptedWithNulls, stopwatch.Elapsed, failures);

        void Check(byte[] input, Func<Hello?> parse)
        {
            try
            {
                if (parse() is { } hello)
                {
                    accepted++;
                    if (HasNulls(hello))
                    {
                        acceptedWithNulls++;
                    }
                }
            }
            catch (ProtocolException)
            {
                refused++;
            }
#pragma warning disable CA1031 // the point of the test is to catch whatever else escapes
            catch (Exception e)
#pragma warning restore CA1031
            {
                failures.Add($"{e.GetType().FullName}: {e.Message} on input {Convert.ToHexString(input)}");
            }
        }
    }

    private static bool HasNulls(Hello hello) =>
        hello.Type is null || hello.Token is null
        || (hello.Hosts?.Any(h => h is null || h.Name is null || h.Services is null || h.Services.Any(s => s is null || s.Name is null)) ?? false);

    /// <summary>Replaces one quoted value (<c>"key":"value"</c>) with <c>null</c>: well-formed JSON that a careless reader trips on.</summary>
    private static void NullOneValue(List<byte> bytes, Random random)
    {
        var starts = new List<int>();
        for (var i = 0; i + 2 < bytes.Count; i++)
        {
            if (bytes[i] == '"' && bytes[i + 1] == ':' && bytes[i + 2] == '"')
            {
                starts.Add(i + 2);
            }
        }
        if (starts.Count == 0)
        {
            return;
        }
        var start = starts[random.Next(starts.Count)];
        var end = bytes.IndexOf((byte)'"', start + 1);
        if (end > start)
        {
            bytes.RemoveRange(start, end - start + 1);
            bytes.InsertRange(start, "null"u8.ToArray());
        }
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = new List<byte>(seed);
        var mutations = random.Next(1, 4);
        for (var m = 0; m < mutations; m++)
        {
            var at = random.Next(bytes.Count + 1);
            switch (random.Next(9))
            {
                case 0 when bytes.Count > 0:
                    at = random.Next(bytes.Count);
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 3:
                    var inserted = new byte[random.Next(1, 17)];
                    random.NextBytes(inserted);
                    bytes.InsertRange(at, inserted);
                    break;
                case 4:
                    bytes.InsertRange(at, Interesting[random.Next(Interesting.Length)]);
                    break;
                case 5:
                    bytes.RemoveRange(at, random.Next(Math.Min(32, bytes.Count - at) + 1));
                    break;
                case 6:
                    var length = random.Next(Math.Min(64, bytes.Count - at) + 1);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                case 7:
                    NullOneValue(bytes, random);
                    break;
                default:
                    if (bytes.Count >= 2)
                    {
                        var lengths = new[] { 0, 1, Frame.MaxPayload, Frame.MaxPayload + 1, ushort.MaxValue, random.Next(ushort.MaxValue + 1) };
                        var value = (ushort)lengths[random.Next(lengths.Length)];
                        bytes[0] = (byte)(value >> 8);
                        bytes[1] = (byte)value;
                    }
                    break;
            }
        }
        var result = bytes.ToArray();
        // Half the time, make the length prefix honest so the mutated JSON itself reaches the parser.
        if (result.Length > 2 && result.Length - 2 <= Frame.MaxPayload && random.Next(2) == 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(result, (ushort)(result.Length - 2));
        }
        return result;
    }
}
