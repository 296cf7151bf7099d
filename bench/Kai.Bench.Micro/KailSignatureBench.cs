using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Kai.Protocol.Kail;
using NSec.Cryptography;

// The per-invocation cost of signed KAIL envelopes (src/Kai.Hub/Invocations/Signing/EnvelopeSignatures.cs): the RFC 8785 signing input of
// the envelope as received, then one signature check. The key lookup (one SQLite point read) is not included. "Canonicalize" alone is the
// JCS part; the hub's signing of each result is "SignResult" (canonicalize + Ed25519 sign).
[MemoryDiagnoser]
public class KailSignatureVerification
{
    private static readonly byte[] EnvelopeJson = Encoding.UTF8.GetBytes(
        """{"type":"AgentInvocation","version":"1.0","id":"bfa81c3e-7123-42a0-9c65-778fc923fca3","sender":"kah:agent.local.user-001","target":"kah:agent.local.notetaker","intent":"summarize_document","payload":{"input":"long_text_here: a paragraph of about two hundred characters that stands in for the document to summarize, with a € sign and a \"quote\".","options":{"model":"gpt-4-turbo","temperature":0.3}},"context":{"thread_id":"doc-session-8431","timestamp":"2026-06-21T14:33:52Z"},"key_id":"k_bench"}""");

    private readonly SignatureAlgorithm _ed = SignatureAlgorithm.Ed25519;
    private Key _edKey = null!;
    private byte[] _edRaw = null!;
    private ECDsa _es = null!;
    private byte[] _esSpki = null!;
    private JsonElement _envelope;
    private byte[] _edSignature = null!;
    private byte[] _esSignature = null!;

    [GlobalSetup]
    public void Setup()
    {
        _edKey = Key.Create(_ed);
        _edRaw = _edKey.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        _es = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _esSpki = _es.ExportSubjectPublicKeyInfo();
        _envelope = JsonDocument.Parse(EnvelopeJson).RootElement.Clone();
        var input = KailSignatures.SigningInput(_envelope);
        _edSignature = _ed.Sign(_edKey, input);
        _esSignature = _es.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _edKey.Dispose();
        _es.Dispose();
    }

    [Benchmark]
    public int Canonicalize() => KailSignatures.SigningInput(_envelope).Length;

    [Benchmark(Baseline = true)]
    public bool VerifyEd25519()
    {
        // As the hub does per envelope: canonical input, import the stored raw key, verify.
        var input = KailSignatures.SigningInput(_envelope);
        var key = PublicKey.Import(_ed, _edRaw, KeyBlobFormat.RawPublicKey);
        return _ed.Verify(key, input, _edSignature);
    }

    [Benchmark]
    public bool VerifyEs256()
    {
        var input = KailSignatures.SigningInput(_envelope);
        using var ec = ECDsa.Create();
        ec.ImportSubjectPublicKeyInfo(_esSpki, out _);
        return ec.VerifyData(input, _esSignature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    [Benchmark]
    public int SignResult() => _ed.Sign(_edKey, KailSignatures.SigningInput(_envelope)).Length;
}
