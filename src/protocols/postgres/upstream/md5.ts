// PostgreSQL's md5 password response: "md5" + md5hex(md5hex(password + user) + salt).
import { createHash } from 'node:crypto';

export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password, 'utf8').update(user, 'utf8').digest('hex');
  return 'md5' + createHash('md5').update(inner, 'utf8').update(salt).digest('hex');
}
