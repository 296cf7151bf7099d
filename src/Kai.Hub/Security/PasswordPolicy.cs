using Kai.Hub.Errors;

namespace Kai.Hub.Security;

/// <summary>
/// The minimum password policy (NIST SP 800-63B §5.1.1.2): 10 to 128 characters, not the email or its local part, and not on a short
/// list of the most common passwords. No composition rules, which the same guideline advises against.
/// </summary>
internal static class PasswordPolicy
{
    public const int MinLength = 10;
    public const int MaxLength = 128;

    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "password", "password1", "password12", "password123", "password1234", "passw0rd", "123456", "1234567", "12345678", "123456789",
        "1234567890", "0123456789", "qwerty", "qwertyuiop", "qwerty123", "qwerty1234", "111111", "1111111111", "000000", "0000000000",
        "abc123", "abcdef", "abcdefgh", "abcdefghij", "iloveyou", "letmein", "letmein123", "welcome", "welcome1", "welcome123",
        "admin", "admin123", "administrator", "changeme", "changeme123", "trustno1", "dragon", "monkey", "football", "baseball",
        "sunshine", "princess", "superman", "starwars", "whatever", "master", "shadow", "michael", "secret", "secret123",
        "1q2w3e4r", "1q2w3e4r5t", "zaq12wsx", "asdfghjkl", "asdfasdf", "aaaaaaaaaa", "correcthorse", "kaihub", "kaihub123", "passwordpassword",
    };

    public static Validation Check(Validation v, string? password, string? email, string field = "password")
    {
        v.Length(password, field, MinLength, MaxLength);
        if (password is null)
        {
            return v;
        }
        var local = email?.Split('@')[0] ?? "";
        v.Check(email is null || (!password.Equals(email.Trim(), StringComparison.OrdinalIgnoreCase)
                && !(local.Length >= 3 && password.Equals(local, StringComparison.OrdinalIgnoreCase))), field, "must not be the email address");
        v.Check(!Common.Contains(password), field, "is too common");
        v.Check(password.Distinct().Count() >= 4, field, "must use at least 4 different characters");
        return v;
    }
}
