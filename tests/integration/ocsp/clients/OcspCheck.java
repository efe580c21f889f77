import java.io.FileInputStream;
import java.net.URI;
import java.security.cert.*;
import java.util.*;

/* Validates a one-certificate path under its CA with Java's PKIX revocation
 * checker asking the given OCSP responder (no CRLs, no fallback), and prints
 * good, revoked or error with the reason. */
public class OcspCheck {
    public static void main(String[] args) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        X509Certificate ca, leaf;
        try (FileInputStream a = new FileInputStream(args[0]); FileInputStream b = new FileInputStream(args[1])) {
            ca = (X509Certificate) cf.generateCertificate(a);
            leaf = (X509Certificate) cf.generateCertificate(b);
        }
        CertPath path = cf.generateCertPath(List.of(leaf));
        CertPathValidator validator = CertPathValidator.getInstance("PKIX");
        PKIXRevocationChecker checker = (PKIXRevocationChecker) validator.getRevocationChecker();
        checker.setOcspResponder(URI.create(args[2]));
        checker.setOptions(EnumSet.of(PKIXRevocationChecker.Option.NO_FALLBACK,
                PKIXRevocationChecker.Option.ONLY_END_ENTITY));
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
        params.setRevocationEnabled(true);
        params.addCertPathChecker(checker);
        try {
            validator.validate(path, params);
            System.out.println("good");
        } catch (CertPathValidatorException e) {
            if (e.getReason() == CertPathValidatorException.BasicReason.REVOKED)
                System.out.println("revoked");
            else
                System.out.println("error: " + e.getMessage());
        }
    }
}
